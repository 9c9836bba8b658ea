"""Builds the experiment a benchmark times, from the same configs as ``train``."""

from __future__ import annotations

from hydra import compose, initialize_config_dir

from poolbench.experiment import Experiment, load_dataset
from poolbench.hydra_app import CONF_DIR, check_choices


def build_experiment(dataset: str, pooler: str, overrides: list[str]) -> Experiment:
    """``conf/config.yaml`` with ``dataset``, ``pooler`` and extra overrides, CPU."""
    check_choices("dataset", [dataset])
    check_choices("pooler", [pooler])
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[f"dataset={dataset}", f"pooler={pooler}", "device=cpu"]
            + list(overrides),
        )
    return Experiment(cfg, load_dataset(cfg))
