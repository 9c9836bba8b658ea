"""Every config composes, and every target accepts exactly its config's keys."""

from __future__ import annotations

import inspect

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import get_class, get_method
from omegaconf import OmegaConf

from poolbench.hydra_app import CONF_DIR, choices
from poolbench.pooling.base import INJECTED_ARGS, config_args
from poolbench.pooling.registry import discover, name_of


def composed(*overrides):
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def target_params(target: str) -> set[str]:
    try:
        obj = get_class(target)
        sig = inspect.signature(obj.__init__)
    except ValueError:
        sig = inspect.signature(get_method(target))
    return set(sig.parameters) - {"self"}


@pytest.mark.parametrize("name", [c for c in choices("pooler") if c != "custom"])
def test_pooler_configs_match_their_class_signature(name):
    cfg = composed(f"pooler={name}")
    keys = set(cfg.pooler) - {"_target_"}
    params = target_params(cfg.pooler._target_)
    assert keys <= params, f"{name}.yaml keys not taken by the class: {keys - params}"
    assert set(INJECTED_ARGS) <= params
    # every other argument is listed: overridable without +, and in the hash
    # with the value the YAML shows
    unlisted = set(config_args(get_class(cfg.pooler._target_))) - keys
    assert not unlisted, f"{name}.yaml leaves out constructor arguments {unlisted}"
    assert name_of(get_class(cfg.pooler._target_)) == name


def test_every_registered_pooler_has_a_config_and_back():
    assert set(discover()) == set(choices("pooler")) - {"custom"}


@pytest.mark.parametrize("name", choices("dataset"))
def test_dataset_configs_match_their_loader(name):
    cfg = composed(f"dataset={name}")
    keys = set(cfg.dataset) - {"_target_"}
    params = set(inspect.signature(get_method(cfg.dataset._target_)).parameters)
    assert keys <= params and "root" in params


@pytest.mark.parametrize("group", ["model", "protocol", "trainer", "logger"])
def test_every_choice_composes(group):
    for choice in choices(group):
        cfg = composed(f"{group}={choice}")
        OmegaConf.to_container(cfg, resolve=True)


@pytest.mark.parametrize("name", choices("experiment"))
def test_every_experiment_composes(name):
    cfg = composed(f"experiment={name}")
    OmegaConf.to_container(cfg, resolve=True)


def test_config_files_start_with_their_command_and_stay_short():
    for path in CONF_DIR.rglob("*.yaml"):
        text = path.read_text()
        assert len(text.splitlines()) <= 60, path
        if path.parent.name in ("pooler", "dataset", "model", "protocol", "experiment"):
            # Hydra reads `# @package` only above any other comment line
            text = text.removeprefix("# @package _global_\n")
            assert text.startswith("# poolbench"), f"{path} lacks its command line"
