"""A train command's jobs, composed as Hydra will, and Hydra's errors in one line."""

from __future__ import annotations

import pytest

from poolbench.errors import PoolbenchError
from poolbench.validation.command import compose_jobs, parse_command


def jobs(*args):
    return compose_jobs(parse_command(list(args)))


def test_a_sweep_expands_like_hydras_basic_sweeper():
    found = jobs("-m", "pooler=mincut,topk", "seed=range(0,2)")
    assert [(j.pooler._target_.rsplit(".", 1)[1], j.seed) for j in found] == [
        ("MinCutPool", 0),
        ("MinCutPool", 1),
        ("TopKPool", 0),
        ("TopKPool", 1),
    ]
    assert all("hydra" not in j for j in found)


def test_a_sweep_set_in_an_experiment_file_is_expanded_too(tmp_path):
    # an experiment may sweep through hydra.sweeper.params, as Hydra allows
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "two_sets.yaml").write_text(
        "# @package _global_\n"
        "model:\n  hidden: 32\n"
        "hydra:\n  sweeper:\n    params:\n"
        "      dataset: synth_easy_small,synth_hard_small\n"
    )
    found = jobs(
        "-m", "--config-dir", str(tmp_path), "experiment=two_sets", "pooler=mincut,topk"
    )
    names = [(j.dataset.name, j.pooler._target_.rsplit(".", 1)[1]) for j in found]
    assert sorted(names) == [
        ("easy", "MinCutPool"),
        ("easy", "TopKPool"),
        ("hard", "MinCutPool"),
        ("hard", "TopKPool"),
    ]
    assert {j.dataset.small for j in found} == {True}
    assert {j.model.hidden for j in found} == {32}


def test_shows_are_left_to_hydra():
    assert parse_command(["--cfg", "job"]) is None
    assert parse_command(["--help"]) is None


def test_own_configs_come_after_poolbenchs(tmp_path):
    (tmp_path / "dataset").mkdir()
    (tmp_path / "dataset" / "mutag.yaml").write_text("name: SHADOW\n")
    (tmp_path / "dataset" / "mine.yaml").write_text(
        "_target_: poolbench.data.tu.load_tu\nname: MINE\n"
    )
    (found,) = jobs("--config-dir", str(tmp_path), "dataset=mutag")
    assert found.dataset.name == "MUTAG"
    (found,) = jobs("--config-dir", str(tmp_path), "dataset=mine")
    assert found.dataset.name == "MINE"


@pytest.mark.parametrize(
    "args, message",
    [
        (["trainer.max_epoch=3"], "unknown key trainer.max_epoch; did you mean"),
        (["seeed=1"], "unknown key seeed; did you mean seed?"),
        (["model.hidden.x=1"], "unknown key model.hidden.x"),
        (["pooler=nopool"], "unknown pooler 'nopool'; available: acc, asap"),
        (["hydra/launcher=nope"], "unknown hydra/launcher 'nope'; available: basic"),
        (["pooler=mincut,topk"], "Ambiguous value for argument 'pooler=mincut,topk'"),
        (["trainer.lr='x"], 'cannot parse "trainer.lr=\'x"'),
        (["~trainer.nope"], "Could not delete from config"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["-cp", "x"], "add your configs with --config-dir"),
    ],
)
def test_hydra_errors_become_one_line(args, message):
    with pytest.raises(PoolbenchError) as err:
        jobs(*args)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.skipif(
    __import__("torch").cuda.is_available(), reason="needs a machine without a GPU"
)
def test_a_slurm_sweep_asking_for_a_gpu_passes_a_login_node_without_one(
    tmp_path, mirror
):
    """The jobs run on the cluster's nodes: this machine's devices say nothing
    about them (each job checks its own before it loads data). Run here, the
    same sweep is refused before any job starts."""
    from poolbench.validation.command import preflight

    base = ["-m", "dataset=mutag", "protocol=holdout", f"results.dir={tmp_path}/r",
            f"data.root={tmp_path}/d", f"data.mirror={mirror}"]  # fmt: skip
    for gpu in (["trainer.amp=true"], ["device=cuda"]):
        assert len(preflight([*base, "hydra/launcher=slurm", *gpu])) == 1
        with pytest.raises(PoolbenchError, match="CUDA device|no GPU is visible"):
            preflight([*base, *gpu])
        with pytest.raises(PoolbenchError, match="CUDA device|no GPU is visible"):
            preflight([*base, "hydra/launcher=joblib", *gpu])
