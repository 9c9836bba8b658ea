"""``conf/task``: each task's settings, and what it accepts, without torch.

The pre-flight checks of ``poolbench train`` read these before any heavy
import: which datasets a task takes, which metrics it reports (so which
``trainer.monitor`` and ``protocol.select_on`` values mean something) and
which ``protocol.split`` values apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from poolbench.errors import PoolbenchError
from poolbench.results.row import METRIC_FAMILIES


@dataclass
class GraphTaskConfig:
    """Graph-level: classification or regression, as the dataset's target says."""

    name: Literal["graph"] = "graph"


@dataclass
class NodeTaskConfig:
    """Node-level: a Graph U-Net classifies each node of one graph."""

    name: Literal["node"] = "node"


@dataclass
class CommunityTaskConfig:
    """Community-level: MP then one pooler trained on its own losses only.

    ``num_clusters``: K, an integer (16 in DMoN's code) or ``classes`` for the
    number of label classes.
    """

    name: Literal["community"] = "community"
    num_clusters: int | Literal["classes"] = 16
    mp_layers: int = 1  # MP layers before the pooler
    activation: Literal["relu", "selu"] = "relu"  # after each MP layer


TASK_CONFIGS = {
    "graph": GraphTaskConfig,
    "node": NodeTaskConfig,
    "community": CommunityTaskConfig,
}
# The kind of dataset each task reads: many graphs, or one graph's nodes.
DATASET_KIND = {"graph": "graphs", "node": "nodes", "community": "nodes"}
SPLITS = {
    ("graph", "classification"): ("stratified", "kfold", "scaffold"),
    ("graph", "regression"): ("kfold", "scaffold"),
    ("node", "classification"): ("public", "random"),
    ("community", "classification"): ("none",),
}


def headline(task: str, target: str) -> str:
    """The task's headline metric (a key of METRIC_FAMILIES)."""
    if task == "community":
        return "nmi"
    return "rmse" if target == "regression" else "acc"


def monitors(task: str, target: str) -> list[str]:
    """``trainer.monitor`` / ``protocol.select_on`` values that mean something."""
    return ["val_loss"] + [f"val_{m}" for m in METRIC_FAMILIES[headline(task, target)]]


def split_kinds(task: str, target: str) -> tuple[str, ...]:
    """``protocol.split`` values that apply; ``auto`` is the first."""
    return SPLITS.get((task, target), ("stratified",))


# Each rule below is checked twice: before any work from the config and the
# loader's declared facts (validation/config.py), and by the task once the data
# is loaded (a user's loader declares nothing). One wording for both.
UNET = "poolbench.models.unet.GraphUNet"


def check_node_model(model_target: str | None) -> None:
    if model_target != UNET:
        raise PoolbenchError(
            "task=node classifies nodes with a Graph U-Net: use model=unet"
        )


def check_can_lift(pooler_class: type, pooler_name: str) -> None:
    """The U-Net maps pooled features back through the pooler's LIFT."""
    if not getattr(pooler_class, "can_lift", True):
        raise PoolbenchError(
            f"pooler {pooler_name} cannot map pooled features back to the nodes "
            "(can_lift is False), which task=node's U-Net needs; use a pooler "
            "that lifts (poolbench list poolers)"
        )


def check_node_split(split: str, folds: int) -> None:
    """The public split is one split: folds over it would be one run repeated
    and tabled as if it were cross-validation."""
    if split in ("auto", "public") and folds != 1:
        raise PoolbenchError(
            f"task=node on the public split has one split, so protocol.folds="
            f"{folds} would repeat it: use protocol=public (protocol.runs=N "
            "seeds) or protocol=random (protocol.folds=N random splits)"
        )


def no_public_split(dataset: str) -> PoolbenchError:
    return PoolbenchError(f"{dataset} has no public split: use protocol=random")


def check_can_cluster(pooler_class: type, pooler_name: str) -> None:
    """task=community trains S on the pooler's own objective, or runs a
    clustering baseline; any other pooler has nothing to train."""
    if pooler_class.can_cluster or pooler_class.clustering_baseline:
        return
    from poolbench.pooling.registry import discover  # torch: on refusal only

    registry = discover()
    able = [n for n, c in registry.items() if c.can_cluster] + [
        f"{n} (baseline)" for n, c in registry.items() if c.clustering_baseline
    ]
    raise PoolbenchError(
        f"pooler {pooler_name} has no clustering objective, so task=community "
        f"cannot train it; use one of {', '.join(able)}"
    )


def check_cluster_count(k: int, nodes: int, dataset: str) -> None:
    if not 1 < k <= nodes:
        raise PoolbenchError(
            f"task.num_clusters={k} must lie in [2, {nodes}] for {dataset} "
            f"({nodes} nodes)"
        )


def scaffold_refused(dataset: str) -> PoolbenchError:
    return PoolbenchError(
        f"protocol.split=scaffold needs molecules; {dataset} has no SMILES "
        "(use protocol.split=auto)"
    )
