"""The checks of one composed config: every shipped config passes them."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from poolbench.errors import PoolbenchError
from poolbench.hydra_app import CONF_DIR, choices
from poolbench.validation.config import check_config


def composed(tmp_path, *overrides):
    # no mirror and nothing local: the TU pre-flight has no files to read
    local = [f"data.root={tmp_path}/data", "data.mirror=null"]
    local += [f"results.dir={tmp_path}/results"]
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=[*local, *overrides])


def with_its_task(dataset: str) -> str:
    """A dataset override plus the task its kind needs (one graph: node)."""
    from hydra.utils import get_method
    from omegaconf import OmegaConf

    loader = get_method(
        OmegaConf.load(CONF_DIR / "dataset" / f"{dataset}.yaml")._target_
    )
    nodes = getattr(loader, "dataset_kind", "graphs") == "nodes"
    if not nodes:
        return f"dataset={dataset}"
    # a generated graph has no published split to run on
    public = getattr(loader, "public_split", True)
    return f"dataset={dataset} task=node" + ("" if public else " protocol=random")


# experiments built for one kind of data, run on a dataset of that kind
EXPERIMENT_DATA = {"gao_ji2019": "dataset=cora", "dmon2023": "dataset=sbm"}

SHIPPED = (
    [f"pooler={p}" for p in choices("pooler") if p != "custom"]
    + [with_its_task(d) for d in choices("dataset") if d != "tu"]
    + [f"experiment={e} {EXPERIMENT_DATA.get(e, '')}" for e in choices("experiment")]
    + ["model=flat", "logger=wandb", "protocol=holdout", "dataset=tu dataset.name=X"]
    + [
        "task=community dataset=sbm pooler=dmon",
        "task=node dataset=cora protocol=random",
    ]
)


@pytest.mark.parametrize("override", SHIPPED)
def test_every_shipped_config_passes(tmp_path, override):
    # the authors' EXPWL1.pkl is looked for before any work: one stands in
    published = tmp_path / "data" / "EXPWL1" / "raw" / "EXPWL1.pkl"
    published.parent.mkdir(parents=True)
    published.write_bytes(b"")
    check_config(composed(tmp_path, *override.split()))


def test_each_value_a_grid_searches_is_checked(tmp_path):
    cfg = composed(tmp_path, "experiment=errica2020")
    check_config(cfg)
    cfg.protocol.grid.trainer.lr = [0.001, 0.0]
    with pytest.raises(PoolbenchError, match=r"trainer\.lr must be > 0, got 0"):
        check_config(cfg)
    cfg.protocol.grid.trainer.lr = [0.001]
    with open_dict(cfg):
        cfg.protocol.grid["model.mp"] = ["gin"]  # a dotted key, as well
    # errica2020's DiffPool is the paper's own model: it has no model.mp
    with pytest.raises(PoolbenchError, match=r"unknown key model\.mp; model takes"):
        check_config(cfg)
    cfg = composed(tmp_path, "experiment=bianchi_lachi2023")
    with open_dict(cfg):
        cfg.protocol.grid = {"model.mp": ["gin", "gat"]}
    with pytest.raises(PoolbenchError, match="unknown model.mp 'gat'"):
        check_config(cfg)


def test_nothing_is_written_by_the_checks(tmp_path):
    check_config(composed(tmp_path, "dataset=mutag"))
    assert list(tmp_path.iterdir()) == []  # results and data root not even made
