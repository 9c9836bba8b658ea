"""Run identities do not drift: keys added later leave existing hashes alone.

The hashes below were computed by poolbench 0.1 (commit 5901e4a) for the same
overrides. Resume and tables match runs by this hash, so a change here would
silently re-run or split every existing result; a key may join the identity
only where it changes what a run computes (a grid's ``select_on``, a task
other than graph, a split other than the default).
"""

from __future__ import annotations

import pytest
import torch.nn.functional as F
from hydra import compose, initialize_config_dir

from poolbench.config_files import CONF_DIR
from poolbench.experiment import config_hash

FROZEN = {
    (): "17d7fef16e31",
    ("pooler=topk", "dataset=proteins"): "5f2ad916d986",
    ("protocol=holdout",): "7b03e9073873",
    # re-based when the experiment began to follow the paper (GraphConvSkip
    # MP, its training settings): a new setup must not match the old rows
    ("experiment=bianchi2022_easy_hard", "pooler=graclus"): "581a24051a83",
    ("trainer.amp=true",): "301ab1aab114",
    ("model=flat", "pooler=none"): "c71177d7bdc2",
    # the node task as it landed (before model.head_dropout existed)
    ("task=node", "dataset=cora", "model=unet"): "65060ff27aaf",
}


def hash_of(overrides) -> str:
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return config_hash(compose("config", overrides=list(overrides)))


@pytest.mark.parametrize("overrides", FROZEN, ids=" ".join)
def test_existing_configs_keep_their_hash(overrides):
    assert hash_of(overrides) == FROZEN[overrides]


def test_a_scaffold_split_of_another_method_is_another_run(monkeypatch):
    """Scaffold splits were rebuilt by a balanced method: rows on the old
    method's folds must not be resumed into or tabled with the new ones
    (23edfea1a1d2 was the hash under the old method)."""
    from poolbench import experiment

    scaffold = ["dataset=freesolv", "pooler=topk", "protocol.split=scaffold"]
    now, plain = hash_of(scaffold), hash_of(scaffold[:2])
    assert now != "23edfea1a1d2"
    monkeypatch.setattr(experiment, "SCAFFOLD_METHOD", "balanced-v2")
    assert hash_of(scaffold) != now
    assert hash_of(scaffold[:2]) == plain  # other splits keep their hash


def test_keys_that_change_a_run_change_its_hash():
    base = hash_of(())
    assert hash_of(["protocol.split=kfold"]) != base
    assert hash_of(["task=community", "dataset=sbm", "pooler=dmon"]) != hash_of(
        ["dataset=sbm", "pooler=dmon"]
    )
    grid = ["+protocol.grid.trainer.lr=[0.1,0.01]"]
    assert hash_of([*grid, "protocol.select_on=val_loss"]) != hash_of(grid)
    # without a grid there is nothing to select: select_on does not count
    assert hash_of(["protocol.select_on=val_loss"]) == base


@pytest.mark.parametrize("baseline", ["kmeans", "spectral"])
def test_a_clustering_baseline_is_not_rerun_for_settings_it_never_reads(baseline):
    # k-means and spectral cluster the raw input: no model, no training
    base = ["task=community", "dataset=sbm", f"pooler={baseline}"]
    same = hash_of(base)
    unused_keys = (
        "trainer.lr=0.1", "trainer.max_epochs=7", "model.hidden=8", "model.mp=gcn",
        "task.mp_layers=2", "task.activation=selu",
    )  # fmt: skip
    for unused in unused_keys:
        assert hash_of([*base, unused]) == same, unused
    for used in ("seed=1", "task.num_clusters=4", "protocol.runs=2"):
        assert hash_of([*base, used]) != same, used
    # a trained pooler does read them
    trained = ["task=community", "dataset=sbm", "pooler=dmon"]
    assert hash_of([*trained, "trainer.lr=0.1"]) != hash_of(trained)


def test_a_pooler_default_its_yaml_leaves_out_is_part_of_the_hash(monkeypatch):
    """A YAML that leaves out a constructor argument (a pooler being written,
    a user's own) hashes its code default: changing that default in the code
    is another run, not a reuse of rows made with the old value."""
    from poolbench.pooling.poolers.kmeans import KMeansPool

    listed = hash_of(["pooler=kmeans"])  # kmeans.yaml lists n_init: 10
    left_out = ["pooler=kmeans", "~pooler.n_init"]
    assert hash_of(left_out) == listed  # the default is the value it runs with
    assert hash_of(["pooler=kmeans", "pooler.n_init=1"]) != listed
    defaults = KMeansPool.__init__.__defaults__
    assert defaults[-1] == 10
    monkeypatch.setattr(KMeansPool.__init__, "__defaults__", (*defaults[:-1], 3))
    assert hash_of(left_out) != listed
    assert hash_of(["pooler=kmeans"]) == listed  # the YAML's own value rules


def test_a_pooler_revision_is_part_of_the_hash(monkeypatch):
    """A fix that changes a pooler's numbers under the same settings raises
    its revision: rows made before are another config, not served as current
    by resume nor mixed into the same cell. Revision 0 adds nothing, so the
    other poolers keep their hashes."""
    from poolbench.experiment import _pooler_identity
    from poolbench.pooling.poolers.eigenpool import EigenPool
    from poolbench.pooling.poolers.topk import TopKPool

    assert EigenPool.revision == 1  # the sign's degree tie-break (2026-12-03)
    before = hash_of(["pooler=eigenpool"])
    monkeypatch.setattr(EigenPool, "revision", 2)
    assert hash_of(["pooler=eigenpool"]) != before
    target = f"{TopKPool.__module__}.{TopKPool.__qualname__}"
    assert "_revision" not in _pooler_identity({"_target_": target})


class ReluTopK:
    """A user's pooler whose YAML leaves out a function default."""

    def __init__(self, in_channels, ratio=0.5, avg_nodes=0.0, act=F.relu, k=(1, 2)):
        pass


def test_a_function_default_is_hashed_by_its_name_not_its_address():
    """Its repr holds a memory address that differs in every process: the
    hash changed at every run and resume never skipped a finished one."""
    from poolbench.experiment import config_identity

    over = ["pooler=topk", "pooler._target_=tests.test_config_hash.ReluTopK"]
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        identity = config_identity(compose("config", overrides=over))
    assert identity["pooler"]["act"] == "torch.nn.functional.relu"
    assert identity["pooler"]["k"] == [1, 2]
    assert "0x" not in str(identity)
