"""``conf/task``: each task's settings, and what it accepts, without torch.

The pre-flight checks of ``poolbench train`` read these before any heavy
import: which datasets a task takes, which metrics it reports (so which
``trainer.monitor`` and ``protocol.select_on`` values mean something) and
which ``protocol.split`` values apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
    num_clusters: int | str = 16
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
