"""Turns a composed config into the pieces of one experiment.

It builds the dataset, the model factory (injecting the dataset-derived sizes
``in_channels``, ``num_classes`` and ``avg_nodes``), the loaders and the
config hash that identifies a run for resume. Nothing here trains.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
import time
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import torch
from hydra.utils import get_class, get_method
from omegaconf import DictConfig, OmegaConf, open_dict
from torch_geometric.loader import DataLoader

from poolbench.data.batching import PackedGraphs, PackedLoader
from poolbench.data.dataset import GraphDataset
from poolbench.data.splits import SCAFFOLD_METHOD, Split
from poolbench.errors import PoolbenchError
from poolbench.models.hierarchical import HierarchicalGNN
from poolbench.pooling.base import Pooler, config_args
from poolbench.pooling.precompute import cache_key, load_or_compute
from poolbench.pooling.registry import name_of
from poolbench.tasks import make_task
from poolbench.tasks.base import Task
from poolbench.training.device import CUDA_ONLY, check_cuda_only
from poolbench.training.protocol import flatten_grid
from poolbench.training.trainer import TrainerConfig

# Keys that change how a run is executed, kept out of the hash so a rerun on
# another machine resumes. fast_data and precompute are proven result-neutral
# on the CPU by the tests; threads (and n_jobs with threads=0) move the last
# digits, so rows record the thread count with the device and tables mark a
# cell that mixes them.
_NOT_IDENTITY = {"threads", "n_jobs", "fail_fast", "fast_data", "precompute", "compile"}


def _without(section: dict, keys: set[str]) -> dict:
    return {k: v for k, v in section.items() if k not in keys}


def _protocol_identity(protocol: dict) -> dict:
    """The protocol keys that change what runs compute.

    The grid is compared flattened (a nested and a dotted spelling are one
    grid); ``select_on`` matters only when there is a grid to select from, so
    runs without one keep the id they had before the key existed.
    """
    identity = _without(protocol, _NOT_IDENTITY)
    grid = flatten_grid(identity.get("grid") or {})
    identity["grid"] = grid
    if not grid:
        identity.pop("select_on", None)
    # Keys that joined later count only where they change something.
    if identity.get("split", "auto") == "auto":
        identity.pop("split", None)
    if identity.get("split") != "random":
        identity.pop("train_per_class", None)
        identity.pop("val_per_class", None)
    if identity.get("split") == "scaffold":
        # rows of an earlier scaffold method are other runs: never resumed
        # into, nor tabled with, runs on the current method's folds
        identity["split_method"] = SCAFFOLD_METHOD
    return identity


def _trainer_not_identity(resolved: dict) -> set[str]:
    """Trainer keys left out of the hash: the speed-only ones, and keys added
    later while they hold the value that means "off", so runs made before a
    key existed keep their id (amp off; ties_improve off; lr_step 0, where
    lr_gamma is unused)."""
    trainer = resolved["trainer"]
    out = set(_NOT_IDENTITY)
    if not trainer.get("amp"):
        out.add("amp")
    if not trainer.get("ties_improve"):
        out.add("ties_improve")
    if not trainer.get("lr_step"):
        out |= {"lr_step", "lr_gamma"}
    return out


def _model_not_identity(resolved: dict) -> set[str]:
    """head_dropout joined the U-Net later: unset (null), runs keep their id."""
    return {"head_dropout"} if resolved["model"].get("head_dropout") is None else set()


def _pooler_identity(pooler: dict) -> dict:
    """The pooler's config plus the code defaults of the constructor arguments
    its YAML leaves out: a default changed in the code (a pooler being
    written) then changes the hash, rather than serving rows made with the
    old value as current. Shipped YAMLs list every argument (tested)."""
    try:
        cls = get_class(str(pooler.get("_target_")))
        params = config_args(cls)
    except Exception:  # an unknown target is refused elsewhere, with a message
        return pooler
    defaults = {}
    # a pooler whose numbers changed under the same settings (Pooler.revision)
    if getattr(cls, "revision", 0):
        defaults["_revision"] = int(cls.revision)
    for name, p in params.items():
        if name in pooler or p.default is inspect.Parameter.empty:
            continue
        stable = _stable_default(p.default)
        if stable is not _UNSTABLE:
            defaults[name] = stable
    return {**pooler, **defaults}


_UNSTABLE = object()


def _stable_default(value):
    """A default as the same text in every process: plain values as they are,
    a function or class by its import path (its repr holds a memory address,
    which changed the hash at every run); anything else stays out."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        items = [_stable_default(v) for v in value]
        return _UNSTABLE if any(v is _UNSTABLE for v in items) else items
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '')}.{value.__qualname__}"
    return _UNSTABLE


def _clustering_baseline(resolved: dict) -> bool:
    """A community run of a baseline (k-means, spectral): it clusters the raw
    input, so no model is built and nothing is trained."""
    if (resolved.get("task") or {}).get("name") != "community":
        return False
    try:
        cls = get_class(str(resolved["pooler"].get("_target_")))
    except Exception:  # an unknown target is refused elsewhere, with a message
        return False
    return bool(getattr(cls, "clustering_baseline", False)) and not cls.trainable


def config_hash(cfg: DictConfig) -> str:
    """Stable id of what a run computes; the speed-only keys are left out."""
    blob = json.dumps(config_identity(cfg), sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def config_identity(cfg: DictConfig) -> dict:
    """What :func:`config_hash` hashes: every setting that changes what a run
    computes (saved beside the results, so tables can say how two configs of
    one pooler differ)."""
    resolved = OmegaConf.to_container(cfg, resolve=True)
    identity = {
        "dataset": resolved["dataset"],
        "model": _without(resolved["model"], _model_not_identity(resolved)),
        "pooler": _pooler_identity(resolved["pooler"]),
        "trainer": _without(resolved["trainer"], _trainer_not_identity(resolved)),
        "protocol": _protocol_identity(resolved["protocol"]),
        "seed": resolved["seed"],
    }
    # The task joined the config later; graph runs keep the id they had.
    task = resolved.get("task") or {"name": "graph"}
    if task != {"name": "graph"}:
        identity["task"] = task
    if _clustering_baseline(resolved):
        # Neither the model, the trainer nor the MP settings touch what a
        # baseline computes: a sweep that changes them must not rerun it, nor
        # table it twice.
        del identity["model"], identity["trainer"]
        identity["task"] = {
            k: v for k, v in task.items() if k not in ("mp_layers", "activation")
        }
    return identity


def load_dataset(cfg: DictConfig) -> GraphDataset:
    """Call ``cfg.dataset._target_`` with the data root (and mirror) injected.

    Called directly rather than through ``hydra.utils.instantiate``, which
    would wrap our one-line errors in its own exception.
    """
    params = OmegaConf.to_container(cfg.dataset, resolve=True)
    loader = get_method(params.pop("_target_"))
    accepted = set(inspect.signature(loader).parameters)
    unknown = set(params) - accepted
    if unknown:
        raise PoolbenchError(
            f"unknown dataset key(s) {', '.join(sorted(unknown))}; "
            f"{loader.__name__} takes {', '.join(sorted(accepted))}"
        )
    params["root"] = cfg.data.root
    if "mirror" in accepted:
        params["mirror"] = cfg.data.mirror
    return loader(**params)


@dataclass
class FastDataCache:
    """What the fast data path builds once and every fold, run and grid point of
    an experiment reuses: the packed dataset and its precomputed topologies."""

    packed: PackedGraphs | None = None
    # precompute cache key -> the packed dataset with those topologies
    with_topology: dict[str, PackedGraphs] = field(default_factory=dict)
    # Seconds spent getting topologies (computed or read from disk) not yet
    # claimed by a result row.
    unclaimed_precompute_sec: float = 0.0


@dataclass
class Experiment:
    """The dataset, splits and model factory of one composed config."""

    cfg: DictConfig
    dataset: GraphDataset
    fast: FastDataCache = field(default_factory=FastDataCache)

    @cached_property
    def trainer(self) -> TrainerConfig:
        return TrainerConfig(**OmegaConf.to_container(self.cfg.trainer, resolve=True))

    @cached_property
    def task(self) -> Task:
        settings = OmegaConf.to_container(self.cfg.get("task") or {}, resolve=True)
        return make_task(settings, self.dataset)

    @cached_property
    def pooler_class(self) -> type[Pooler]:
        try:
            cls = get_class(self.cfg.pooler._target_)
        except Exception as exc:
            raise PoolbenchError(
                f"cannot import pooler._target_={self.cfg.pooler._target_}: {exc}"
            ) from None
        if not (isinstance(cls, type) and issubclass(cls, Pooler)):
            raise PoolbenchError(
                f"pooler._target_={self.cfg.pooler._target_} must subclass "
                "poolbench.pooling.Pooler"
            )
        return cls

    @property
    def pooler_name(self) -> str:
        return name_of(self.pooler_class)

    @property
    def name(self) -> str:
        return (
            self.cfg.get("experiment_name") or f"{self.dataset.name}-{self.pooler_name}"
        )

    @property
    def model_name(self) -> str:
        """A short name of the model shape, e.g. ``gin[2-1]h64`` (task's own)."""
        if not self.task.trains(self):
            return self.task.untrained_name()
        return self.task.model_name(self.cfg.model)

    @cached_property
    def config_hash(self) -> str:
        return config_hash(self.cfg)

    @property
    def data_root(self) -> Path:
        return Path(self.cfg.data.root).expanduser()

    def splits(self) -> list[Split]:
        """The protocol's folds, built once and saved (the task says how)."""
        return self.task.splits(self)

    def fold_loaders(self, split: Split, generator: torch.Generator):
        """Train, validation and test loaders of one fold (validation may be
        None for a task without labels to select on)."""
        return self.task.loaders(self, split, generator)

    def make_pooler(
        self,
        level: int,
        in_channels: int,
        avg_nodes: float,
        ratio: float | None = None,
    ) -> Pooler:
        """The configured pooler for ``avg_nodes``-node inputs; ``ratio``
        defaults to ``model.pool_ratio`` (a task may set its own)."""
        params = {k: v for k, v in self.cfg.pooler.items() if k != "_target_"}
        try:
            return self.pooler_class(
                in_channels=in_channels,
                ratio=self.cfg.model.pool_ratio if ratio is None else ratio,
                avg_nodes=avg_nodes,
                **params,
            )
        except TypeError as exc:
            raise PoolbenchError(
                f"bad pooler config for {self.pooler_name}: {exc}"
            ) from None

    def dense_memory_mb(self) -> float:
        """Estimated peak memory of a dense pooler's first level, in MiB.

        Dense poolers pad each batch to ``B x N_max``; most also build
        ``B x N_max^2`` adjacencies (PyG 5101): with the largest graphs batched
        together this is ``4 bytes x B x (N^2 + 3 N K + 2 N F)``, times 3 for
        autograd's saved tensors; the N^2 term drops for poolers that declare
        ``needs_dense_adj = False``, and a loss over all node pairs adds its
        ``pair_floats`` per pair. Zero for sparse poolers.
        """
        if not self.pooler_class.is_dense or self.task.has_own_model(self.cfg.model):
            return 0.0  # a paper's model of its own sizes its pooling itself
        sizes = sorted((g.num_nodes for g in self.dataset.graphs), reverse=True)
        b = min(self.trainer.batch_size, len(sizes))
        n = sizes[0]
        k = self.task.first_level_k(self)
        f = self.cfg.model.hidden
        square = n * n if getattr(self.pooler_class, "needs_dense_adj", True) else 0
        per_k, per_pair = getattr(self.pooler_class, "pair_floats", (0, 0))
        square += n * n * (per_k * k + per_pair)
        return 3 * 4 * b * (square + 3 * n * k + 2 * n * f) / 2**20

    def make_model(self, device: torch.device) -> torch.nn.Module:
        """The task's model (hierarchical GNN, U-Net or MP + one pooler)."""
        return self.build_model(device).to(device)

    def build_model(self, device: torch.device) -> torch.nn.Module:
        """The model for ``device``, still on the CPU: checks the settings
        without taking device memory (a parent whose folds run in workers
        would hold a CUDA context outside their shares)."""
        check_cuda_only({f: getattr(self.trainer, f) for f in CUDA_ONLY}, device)
        try:
            model = self.task.build_model(self)
        except (TypeError, ValueError) as exc:
            raise PoolbenchError(f"bad model config: {exc}") from None
        return model

    def own_model(self) -> torch.nn.Module:
        """A model named by ``model._target_`` (poolbench.models.errica...).

        It gets ``in_channels`` and ``num_classes``, and whichever of the
        dataset-derived ``avg_nodes``/``max_nodes`` and the pooler config
        (``pooler_params``) its signature asks for. A model with its pooling
        built in names the pooler config it reads (``builtin_pooler``).
        """
        model_cfg = OmegaConf.to_container(self.cfg.model, resolve=True)
        target = model_cfg.pop("_target_")
        try:
            cls = get_class(target)
        except Exception as exc:
            raise PoolbenchError(
                f"cannot import model._target_={target}: {exc}"
            ) from None
        # a model without pooling must not carry (and be filed under) a pooler
        builtin = getattr(cls, "builtin_pooler", None) or "none"
        if self.pooler_name != builtin:
            raise PoolbenchError(
                f"model {cls.__name__} builds its own {builtin}; use pooler={builtin}"
                if builtin != "none"
                else f"model {cls.__name__} has no pooling; use pooler=none"
            )
        accepted = set(inspect.signature(cls.__init__).parameters)
        injected = {
            "in_channels": self.dataset.num_features,
            "num_classes": self.dataset.num_outputs,
            "avg_nodes": self.dataset.avg_nodes,
            "max_nodes": max(g.num_nodes for g in self.dataset.graphs),
            "pooler_params": {
                k: v
                for k, v in OmegaConf.to_container(
                    self.cfg.pooler, resolve=True
                ).items()
                if k != "_target_"
            },
        }
        params = {k: v for k, v in injected.items() if k in accepted}
        try:
            return cls(**params, **model_cfg)
        except (TypeError, ValueError) as exc:
            raise PoolbenchError(
                f"bad model config for {cls.__name__}: {exc}"
            ) from None

    def hierarchical_model(self) -> HierarchicalGNN:
        """MP blocks interleaved with the pooler, readout and MLP (graph tasks)."""
        model_cfg = OmegaConf.to_container(self.cfg.model, resolve=True)
        return HierarchicalGNN(
            in_channels=self.dataset.num_features,
            num_classes=self.dataset.num_outputs,
            make_pooler=self.make_pooler,
            avg_nodes=self.dataset.avg_nodes,
            **model_cfg,
        )

    def loader(
        self, index: list[int], shuffle: bool, generator: torch.Generator | None
    ):
        """Batches of the graphs ``index``: the packed fast path by default, or
        PyG's DataLoader (``trainer.fast_data=false``); both give one result."""
        if self.trainer.fast_data:
            return PackedLoader(
                self.packed_graphs(), index, self.trainer.batch_size, shuffle, generator
            )
        graphs = [self.dataset.graphs[i] for i in index]
        return DataLoader(
            graphs,
            batch_size=self.trainer.batch_size,
            shuffle=shuffle,
            generator=generator,
            num_workers=0,  # worker processes crash under joblib (Hydra 964)
        )

    def with_overrides(self, overrides: dict) -> Experiment:
        """A copy whose config has ``overrides`` (dotted keys) applied: grid points.

        Set as values, not re-parsed from text: a grid's ``null`` stays None
        (as text it became the string 'None') and a string stays a string.
        """
        cfg = copy.deepcopy(self.cfg)
        # open: a grid may search a constructor argument its YAML leaves to
        # the default (a pooler of the user's own may leave one out)
        with open_dict(cfg):
            for key, value in overrides.items():
                OmegaConf.update(cfg, key, value, merge=False)
        return Experiment(cfg, self.dataset, self.fast)

    @property
    def pooling_levels(self) -> int:
        """Pooler levels of the shared backbone (a model of its own: none here)."""
        blocks = self.cfg.model.get("blocks")
        return len(blocks) - 1 if blocks is not None else 0

    @property
    def precomputes_pooling(self) -> bool:
        return (
            self.trainer.precompute
            and self.pooling_levels > 0
            and self.pooler_class.precomputable
        )

    def packed_graphs(self) -> PackedGraphs:
        """The dataset packed once (CPU; the trainer moves it to the device once),
        with the pooler's precomputed topologies when it has any."""
        if self.fast.packed is None:
            self.fast.packed = PackedGraphs.from_graphs(
                self.dataset.graphs, torch.device("cpu")
            )
        if not self.precomputes_pooling:
            return self.fast.packed
        hidden = int(self.cfg.model.hidden)
        avg = self.dataset.avg_nodes
        ratio = self.cfg.model.pool_ratio
        sizes = [avg * ratio**level for level in range(self.pooling_levels)]
        # The key holds all the constructor gets: a pooler sizing K from the
        # ratio (nmf, spectral) must not be served another ratio's topology.
        params = {
            "pooler": OmegaConf.to_container(self.cfg.pooler, resolve=True),
            "in_channels": hidden,
            "ratio": ratio,
            "avg_nodes": sizes,
        }
        key = cache_key(
            self.dataset.fingerprint, self.pooler_class, params, self.pooling_levels
        )
        if key not in self.fast.with_topology:
            start = time.perf_counter()
            poolers = [
                self.make_pooler(level, hidden, size)
                for level, size in enumerate(sizes)
            ]
            cache_dir = Path(self.cfg.data.root) / "precompute" / self.dataset.name
            result = load_or_compute(poolers, self.dataset.graphs, cache_dir, key)
            self.fast.with_topology[key] = replace(
                self.fast.packed, levels=result.levels, _copies={}
            )
            self.fast.unclaimed_precompute_sec += time.perf_counter() - start
        return self.fast.with_topology[key]

    def take_precompute_sec(self) -> float:
        """Precompute seconds spent since the last call: for one result row's
        ``precompute_sec`` (they already lie inside that run's ``total_sec``)."""
        seconds, self.fast.unclaimed_precompute_sec = (
            self.fast.unclaimed_precompute_sec,
            0.0,
        )
        return seconds
