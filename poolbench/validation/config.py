"""One composed ``train`` config, checked before any work.

Cheap checks first, with no torch import: the top-level keys, paths and names,
every bound in ``RANGES``, the trainer, and the dataset's own pre-flight (TU:
every raw file, line by line). Then the sections whose consumers live in torch
code (protocol, model, pooler, logger) and the protocol against the data: folds
per class and a splits file saved earlier. Everything that fails is a
:class:`PoolbenchError`: one line, exit code 2, no row.
"""

from __future__ import annotations

import copy
import errno
import importlib
import inspect
import os
import re
import tempfile
import typing
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from poolbench.data import loader_facts
from poolbench.errors import PoolbenchError
from poolbench.training.config import TrainerConfig
from poolbench.validation.values import (
    ANY,
    Param,
    Spec,
    check_plain_name,
    check_ranges,
    check_section,
    unknown_key,
)

GROUPS = ("task", "dataset", "pooler", "model", "protocol", "trainer", "logger")
DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


@dataclass
class RootConfig:
    """The keys of ``conf/config.yaml`` itself; each group is a section."""

    seed: int
    device: str
    experiment_name: str | None
    data: dict
    results: dict


@dataclass
class DataConfig:
    root: str
    mirror: str | None = None


@dataclass
class ResultsConfig:
    dir: str


def plain(cfg: DictConfig) -> dict:
    """The config as plain values with every interpolation resolved."""
    try:
        values = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as exc:
        raise PoolbenchError(
            f"{exc.full_key} has no value; set {exc.full_key}=…"
        ) from None
    except OmegaConfBaseException as exc:
        reason = str(exc).splitlines()[0]
        raise PoolbenchError(f"cannot resolve {exc.full_key}: {reason}") from None
    values.pop("hydra", None)
    return values


def check_config(cfg: DictConfig, devices_here: bool = True) -> None:
    """Every check of one job's config; the data's files included.
    ``devices_here=False``: the job runs on another machine (a Slurm node),
    so this one's devices say nothing about it."""
    values = plain(cfg)
    check_root(values)
    check_ranges(values)
    check_trainer(values["trainer"])
    if devices_here:
        check_device(values)
    summary = check_dataset(values)
    protocol = check_protocol(values["protocol"])
    check_task(values, protocol)
    check_model(values["model"])
    check_pooler(values["pooler"], values["model"])
    check_own_model(values)
    check_logger(values["logger"])
    check_grid(values, protocol, devices_here)
    if summary is not None:
        check_fit(values, summary, protocol)


def check_eval_config(cfg: DictConfig, settings: DictConfig, dataset: bool) -> None:
    """What ``poolbench eval`` takes from one composed config (paths, trainer,
    model, pooler, and the dataset where the kind loads one: the others make
    their point clouds) and its own ``eval.`` settings."""
    values = plain(cfg)
    check_root(values)
    check_ranges(values)
    check_trainer(values["trainer"])
    check_device(values)
    if dataset:
        check_dataset(values)
    check_ranges({"eval": OmegaConf.to_container(settings, resolve=True)})
    check_model(values["model"])
    check_pooler(values["pooler"], values["model"])


def check_root(values: dict) -> None:
    spec = Spec.of("", RootConfig)
    spec.params |= {group: Param(ANY, True) for group in GROUPS}
    check_section(spec, values)
    check_section(Spec.of("data", DataConfig), values["data"])
    check_section(Spec.of("results", ResultsConfig), values["results"])
    if not DEVICE.fullmatch(values["device"]):
        raise PoolbenchError(
            f"unknown device {values['device']!r}; use auto, cpu, cuda or cuda:N"
        )
    check_writable_dir("results.dir", values["results"]["dir"])
    check_store_files(values["results"]["dir"])
    check_writable_dir("data.root", values["data"]["root"])
    mirror = values["data"].get("mirror")
    if mirror and not Path(mirror).expanduser().is_dir():
        raise PoolbenchError(
            f"data.mirror={mirror} is not a directory; fix the path or unset "
            "data.mirror (env POOLBENCH_DATA_MIRROR)"
        )


def check_writable_dir(key: str, value: str) -> None:
    """A directory that exists or can be made, and takes files; nothing is left."""
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise PoolbenchError(f"{key}={value} is a file; give a directory")
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise PoolbenchError(f"{key}={value} cannot be made: {probe} is a file")
    try:
        # some bytes, not an empty file: a full disk takes an empty file
        with tempfile.TemporaryFile(dir=probe) as f:
            f.write(bytes(_FREE_BYTES))
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise PoolbenchError(
            f"{key}={value} is not writable ({exc.strerror} in {probe}); "
            "give a writable directory" + (", or free space" if _full(exc) else "")
        ) from None


# What a run writes before its first row (Hydra's config files, the row): a
# disk without this much free fails the run in the middle.
_FREE_BYTES = 64 * 1024
# The files of a results dir, each of which must be a file that takes appends.
_STORE_FILES = (
    "results.csv",
    ".results.csv.lock",
    "selection.csv",
    ".selection.csv.lock",
    "summaries.jsonl",
)


def _full(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def check_store_files(value: str) -> None:
    """The store's own files, where they exist, are files that take appends:
    a directory or a dangling link there was found only when the first row was
    written, after a run had trained."""
    folder = Path(value).expanduser()
    for name in _STORE_FILES:
        path = folder / name
        if path.is_symlink() and not path.exists():
            raise PoolbenchError(
                f"{path} is a link to nothing; remove it or fix its target"
            )
        if not path.exists():
            continue
        if not path.is_file():
            raise PoolbenchError(
                f"{path} is not a file; remove it or give another results.dir"
            )
        try:
            with open(path, "ab"):
                pass
        except OSError as exc:
            raise PoolbenchError(
                f"{path} cannot be written ({exc.strerror}); fix its permissions "
                "or give another results.dir"
            ) from None
        real = Path(os.path.realpath(path)).parent
        if path.is_symlink() and real != folder.resolve():
            # a linked store is locked, and rewritten, beside its target
            lock = real / f".{Path(os.path.realpath(path)).name}.lock"
            try:
                with tempfile.TemporaryFile(dir=real):
                    pass
                if lock.exists():  # made by another user: may be read-only
                    with open(lock, "ab"):
                        pass
            except OSError as exc:
                raise PoolbenchError(
                    f"{path} links into {real}, where its lock and rewrites go, "
                    f"and that folder cannot be written ({exc.strerror})"
                ) from None


def check_trainer(section: dict) -> None:
    check_section(Spec.of("trainer", TrainerConfig), section)


def check_device(values: dict, trainer: dict | None = None) -> None:
    """``device=cuda`` without a GPU, and the CUDA-only trainer flags on the
    CPU (of ``trainer``, a grid's candidate, else the config's own)."""
    from poolbench.training.device import check_cuda_only, resolve_device

    trainer = values["trainer"] if trainer is None else trainer
    check_cuda_only(trainer, resolve_device(values["device"]))


def _target(section: str, values: dict):
    """The class or function ``<section>._target_`` names, imported."""
    target = values.get("_target_")
    if not isinstance(target, str) or "." not in target:
        raise PoolbenchError(
            f"{section}._target_={target} is not an import path; set "
            f"{section}._target_=package.module.Name"
        )
    module, _, name = target.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except Exception as exc:  # hydra's own locate logs a traceback-like block
        raise PoolbenchError(
            f"cannot import {section}._target_={target} "
            f"({type(exc).__name__}: {str(exc).splitlines()[0]}); fix the path"
        ) from None


def check_dataset(values: dict):
    """The loader's keys and types, then its own pre-flight (if it has one)."""
    params = {k: v for k, v in values["dataset"].items() if k != "_target_"}
    loader = _target("dataset", values["dataset"])
    injected = {"root": "data.root", "mirror": "data.mirror"}
    check_section(Spec.of("dataset", loader, injected), params)
    if isinstance(params.get("name"), str):
        check_plain_name("dataset.name", params["name"])
    preflight = getattr(loader, "preflight", None)
    if preflight is None:
        return None
    accepted = inspect.signature(preflight).parameters
    extra = {k: values["data"][k] for k in injected if k in accepted}
    return preflight(**params, **extra)


def pooler_name(values: dict) -> str:
    """The pooler's registry name (its import path for a user's own)."""
    from poolbench.pooling.registry import name_of

    return name_of(_target("pooler", values["pooler"]))


# Graph models of their own that cannot fit real-valued targets: why, and
# what to use instead.
NOT_FOR_REGRESSION = {
    "poolbench.models.errica.MolecularFingerprint": (
        "its output ends in a ReLU (as in Errica et al.'s code), so it never "
        "predicts below the training mean of the standardised targets",
        "model=errica_deepmultisets (the same sum-then-MLP idea, linear output) "
        "or the default model=hierarchical",
    ),
}


def check_own_model(values: dict) -> None:
    """A graph model of its own (``model._target_``, e.g. a paper's) against
    the pooler it builds in (``builtin_pooler``; none by default): a run must
    not be filed under a pooler it never used. The U-Net is the node task's."""
    from poolbench.tasks.config import UNET

    target = values["model"].get("_target_")
    task = (values.get("task") or {}).get("name", "graph")
    if target is None or task != "graph":
        return
    if target == UNET:
        raise PoolbenchError(
            "model=unet classifies nodes: add task=node (and a node dataset)"
        )
    cls = _target("model", {"_target_": target})
    loader = _target("dataset", values["dataset"])
    if target in NOT_FOR_REGRESSION and loader_facts(loader)[1] == "regression":
        why, instead = NOT_FOR_REGRESSION[target]
        raise PoolbenchError(
            f"model {cls.__name__} cannot regress {dataset_label(values, loader)}'s "
            f"real-valued targets: {why}; use {instead}"
        )
    builtin = getattr(cls, "builtin_pooler", None) or "none"
    if pooler_name(values) != builtin:
        raise PoolbenchError(
            f"model {cls.__name__} builds its own {builtin}; use pooler={builtin}"
            if builtin != "none"
            else f"model {cls.__name__} has no pooling; use pooler=none"
        )


def check_task(values: dict, protocol) -> None:
    """The task's keys, the dataset kind it reads, the metrics it reports (for
    trainer.monitor and protocol.select_on) and the splits that apply."""
    from poolbench.tasks.config import (
        DATASET_KIND,
        TASK_CONFIGS,
        check_can_cluster,
        check_can_lift,
        check_node_model,
        check_node_split,
        monitors,
        no_public_split,
        scaffold_refused,
        split_kinds,
    )

    section = values.get("task") or {"name": "graph"}
    name = section.get("name")
    if name not in TASK_CONFIGS:
        raise PoolbenchError(
            f"unknown task {name!r}; use one of {', '.join(TASK_CONFIGS)}"
        )
    check_section(Spec.of("task", TASK_CONFIGS[name]), section)
    loader = _target("dataset", values["dataset"])
    kind, target = loader_facts(loader)
    dataset = dataset_label(values, loader)
    if kind != DATASET_KIND[name]:
        what = "one graph with node labels" if kind == "nodes" else "many graphs"
        fix = "task=node or task=community" if kind == "nodes" else "task=graph"
        raise PoolbenchError(
            f"dataset {dataset} is {what}, which task={name} does not take; "
            f"use {fix}, or a dataset of the other kind"
        )
    allowed = monitors(name, target)
    what = f"task={name}" + (f" ({target})" if name == "graph" else "")
    if name != "community" and values["trainer"]["monitor"] not in allowed:
        raise PoolbenchError(
            f"trainer.monitor={values['trainer']['monitor']} does not apply to "
            f"{what} on {dataset}; use one of {', '.join(allowed)}"
        )
    if protocol.select_on != "auto" and protocol.select_on not in allowed:
        raise PoolbenchError(
            f"protocol.select_on={protocol.select_on} does not apply to {what} "
            f"on {dataset}; use auto or one of {', '.join(allowed)}"
        )
    if name == "node":
        check_node_model(values["model"].get("_target_"))
        check_can_lift(_target("pooler", values["pooler"]), pooler_name(values))
    if name == "community":
        check_can_cluster(_target("pooler", values["pooler"]), pooler_name(values))
        declared_cluster_count(values, loader)
    # poolbench's own loaders say whether their graphs carry scaffolds; a
    # user's loader is trusted until its dataset is loaded
    own = getattr(loader, "__module__", "").startswith("poolbench.")
    if protocol.split == "scaffold" and own and not getattr(loader, "molecules", False):
        raise scaffold_refused(dataset)
    if name == "community" and protocol.folds != 1:
        raise PoolbenchError(
            f"task=community uses every node and no split, so protocol.folds="
            f"{protocol.folds} means nothing: use protocol=seeds"
        )
    if name == "community" and protocol.grid:
        raise PoolbenchError(
            "task=community has no validation set, so protocol.grid has nothing "
            "to select on: sweep the values with -m (one row per value) instead"
        )
    kinds = split_kinds(name, target)
    if protocol.split != "auto" and protocol.split not in kinds:
        raise PoolbenchError(
            f"protocol.split={protocol.split} does not apply to {what} on "
            f"{dataset}; use auto or one of {', '.join(kinds)}"
        )
    if name == "node":
        check_node_split(protocol.split, protocol.folds)
        # a loader that declares it has none (generated graphs); a user's
        # loader is trusted until its dataset is loaded
        if protocol.split in ("auto", "public") and (
            getattr(loader, "public_split", None) is False
        ):
            raise no_public_split(dataset)


def dataset_label(values: dict, loader) -> str:
    """The dataset as a message names it: its name, else its generator's
    (``load_sbm`` -> sbm)."""
    name = values["dataset"].get("name")
    return str(name) if name else loader.__name__.removeprefix("load_")


def declared_cluster_count(values: dict, loader) -> None:
    """K against the graph's nodes, where the loader can tell the count from
    its settings (``node_count``); otherwise the task checks it after loading."""
    k = (values.get("task") or {}).get("num_clusters")
    count = getattr(loader, "node_count", None)
    if not isinstance(k, int) or count is None:
        return
    settings = {key: v for key, v in values["dataset"].items() if key != "_target_"}
    n = count(**settings)
    if n is not None:
        from poolbench.tasks.config import check_cluster_count

        check_cluster_count(k, n, dataset_label(values, loader))


def check_protocol(section: dict):
    from poolbench.training.protocol import ProtocolConfig

    check_section(Spec.of("protocol", ProtocolConfig), section)
    return ProtocolConfig(**section)


def check_model(section: dict) -> None:
    """The model's keys against its consumer: ``model._target_`` when the
    config names one (the U-Net), else the hierarchical GNN."""
    from poolbench.models.hierarchical import HierarchicalGNN
    from poolbench.models.mp import MP_KINDS

    section = dict(section)
    target = section.pop("_target_", None)
    consumer = (
        HierarchicalGNN if target is None else _target("model", {"_target_": target})
    )
    injected = dict.fromkeys(
        ("in_channels", "num_classes", "avg_nodes", "num_nodes", "max_nodes"),
        "the dataset",
    ) | {"make_pooler": "the pooler config", "pooler_params": "the pooler config"}
    check_section(Spec.of("model", consumer, injected), section)
    if "mp" in section and section["mp"] not in MP_KINDS:
        raise PoolbenchError(
            f"unknown model.mp {section['mp']!r}; use one of {', '.join(MP_KINDS)}"
        )
    if "readout" in section:
        from poolbench.models.readout import readout_names

        try:
            readout_names(section["readout"])
        except ValueError as exc:
            raise PoolbenchError(f"model.readout: {exc}") from None


def check_pooler(section: dict, model: dict | None = None) -> None:
    """The pooler's keys against its constructor, then one trial construction,
    so that a value its class refuses (``pooler.iterations=-1``) stops the
    command before the data is read rather than at the first fold."""
    from poolbench.pooling.base import INJECTED_ARGS, Pooler

    cls = _target("pooler", section)
    if not (isinstance(cls, type) and issubclass(cls, Pooler)):
        raise PoolbenchError(
            f"pooler._target_={section['_target_']} must subclass "
            "poolbench.pooling.Pooler"
        )
    params = {k: v for k, v in section.items() if k != "_target_"}
    check_section(Spec.of("pooler", cls, INJECTED_ARGS), params)
    try_pooler(cls, params, model or {})


def try_pooler(cls, params: dict, model: dict) -> None:
    """Build the pooler once with stand-in sizes; any refusal of its own (a
    ValueError, or a torch error such as a negative layer width) becomes one
    line naming the key. The global RNG is left as it was, so the trial cannot
    shift a seeded run's initial weights."""
    import torch

    from poolbench.pooling.registry import name_of

    hidden = model.get("hidden")
    ratio = model.get("pool_ratio")
    sizes = {
        "in_channels": hidden if isinstance(hidden, int) else 16,
        "ratio": ratio if isinstance(ratio, float | int) else 0.5,
        "avg_nodes": 32.0,
    }

    def build(values: dict) -> Exception | None:
        with torch.random.fork_rng(devices=[]):
            try:
                cls(**sizes, **values)
            except Exception as exc:  # noqa: BLE001 - every refusal is one line
                return exc
        return None

    exc = build(params)
    if exc is None:
        return
    reason = _one_line(exc)
    named = [k for k in params if re.search(rf"\b{re.escape(k)}\b", reason)]
    if not named:  # e.g. torch's own message: the key whose default builds
        empty = inspect.Parameter.empty
        defaults = inspect.signature(cls).parameters
        for key, value in params.items():
            default = defaults[key].default if key in defaults else empty
            if default is not empty and default != value:
                if build({**params, key: default}) is None:
                    named = [key]
                    break
    fix = f"; fix pooler.{named[0]}" if named else ""
    raise PoolbenchError(f"pooler {name_of(cls)}: {reason}{fix}") from None


def _one_line(exc: Exception) -> str:
    reason = (str(exc).splitlines() or [type(exc).__name__])[0].strip()
    # PyG's resolvers list their choices as a set: sorted, so the line is the
    # same from run to run
    choices = re.search(r"among choices \{(.*)\}", reason)
    if choices:
        names = sorted(n.strip().strip("'\"") for n in choices.group(1).split(","))
        reason = reason[: choices.start()] + f"among choices {', '.join(names)}"
    return reason or type(exc).__name__


def check_logger(section: dict) -> None:
    params = {k: v for k, v in section.items() if k != "name"}
    if section.get("name") == "wandb":
        from poolbench.results.wandb_sink import WandbSink

        injected = {"config": "the whole config", "directory": "results.dir"}
        check_section(Spec.of("logger", WandbSink, injected), params)
        modes = ["auto", *wandb_modes()]
        if "mode" in params and params["mode"] not in modes:
            # wandb would warn (many lines) and the run go on without it
            raise PoolbenchError(
                f"unknown logger.mode {params['mode']!r}; use one of {', '.join(modes)}"
            )
    elif params:
        raise unknown_key("logger", next(iter(params)), ["name"])


def wandb_modes() -> list[str]:
    """The ``mode`` values the installed wandb's ``wandb.init`` takes."""
    try:
        from wandb.sdk.wandb_settings import Settings

        modes = typing.get_args(Settings.model_fields["mode"].annotation)
    except Exception:  # noqa: BLE001 - another wandb layout: its documented modes
        modes = ()
    return list(modes) or ["online", "offline", "disabled"]


def check_grid(values: dict, protocol, devices_here: bool = True) -> None:
    """Each value a grid searches is checked like the section it replaces."""

    def trainer(section: dict) -> None:
        check_trainer(section)
        if devices_here:
            check_device(values, section)

    checks = {
        "trainer": trainer,
        "model": check_model,
        "pooler": lambda section: check_pooler(section, values["model"]),
    }
    for key, options in protocol.grid.items():  # dotted keys: ProtocolConfig's
        section, _, leaf = key.partition(".")
        if section not in checks:
            continue
        for option in options:
            candidate = copy.deepcopy(values[section])
            candidate[leaf] = option
            try:
                checks[section](candidate)
            except PoolbenchError as error:  # say which grid value it was
                raise PoolbenchError(
                    f"protocol.grid.{key} value {option!r}: {error}"
                ) from None


def check_fit(values: dict, summary, protocol) -> None:
    """The protocol against the labels, and any splits file saved before."""
    import numpy as np

    from poolbench.data.splits import check_stratifiable, read_splits, splits_path

    labels = np.asarray(summary.labels)
    p = protocol
    if p.split not in ("auto", "stratified"):
        return  # only stratified splits ask each class for enough graphs
    check_stratifiable(labels, p.folds, p.val_size, p.test_size, summary.name)
    path = splits_path(
        values["data"]["root"],
        summary.name,
        p.folds,
        p.val_size,
        values["seed"],
        p.test_size,
    )
    if path.is_file():
        meta = {
            "val_size": p.val_size,
            "test_size": p.test_size,
            "seed": values["seed"],
        }
        read_splits(path, labels, p.folds, meta)
