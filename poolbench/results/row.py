"""The results schema: one row per final run, the only input of tables and plots."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone


def utc_now() -> str:
    """A row's ``started_at``/``finished_at``: UTC to the second, ISO 8601."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class ResultRow:
    # identity
    experiment: str
    dataset: str
    pooler: str
    model: str
    protocol: str
    fold: int
    run: int
    seed: int
    config_hash: str
    # the protocol's shape (outer folds, final runs per fold): what a complete
    # cell is, so tables never infer it from the indices that happen to exist
    protocol_folds: int = 0
    protocol_runs: int = 0
    task: str = "graph"
    metric: str = "acc"  # the task's headline metric: acc, rmse, nmi (METRICS)
    # epochs and scores (read at the best-validation epoch); a task fills the
    # columns of its metrics and leaves the others empty
    best_epoch: int = -1
    epochs: int = 0
    train_acc: float = float("nan")
    val_acc: float = float("nan")
    test_acc: float = float("nan")
    val_loss: float = float("nan")
    test_loss: float = float("nan")
    # graph regression, in the target's units
    train_rmse: float = float("nan")
    val_rmse: float = float("nan")
    test_rmse: float = float("nan")
    val_mae: float = float("nan")
    test_mae: float = float("nan")
    # community detection: the final assignment against the labels (NMI,
    # pairwise F1, ARI) and on the graph alone (modularity, conductance)
    test_nmi: float = float("nan")
    test_f1: float = float("nan")
    test_ari: float = float("nan")
    test_modularity: float = float("nan")
    test_conductance: float = float("nan")
    # cost
    sec_per_epoch: float = float("nan")
    total_sec: float = float("nan")
    precompute_sec: float = 0.0
    peak_mem_mb: float = float("nan")
    mem_kind: str = ""
    params: int = 0
    # graph sizes
    avg_nodes_in: float = float("nan")
    avg_nodes_pooled: float = float("nan")
    # provenance and outcome
    selected: str = ""
    data_fingerprint: str = ""
    device: str = ""
    torch: str = ""
    torch_geometric: str = ""
    poolbench_version: str = ""
    git_commit: str = ""
    started_at: str = ""
    finished_at: str = ""
    wandb_id: str = ""
    error: str = ""
    # Last on purpose: a line cut short by a killed writer cannot end in a full
    # status value, so the store can tell complete rows from torn ones.
    status: str = "ok"

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def label(self) -> str:
        """The run in words, for progress and error lines."""
        name = cell_label(self.experiment, self.dataset, self.pooler)
        return f"{name} fold {self.fold} run {self.run}"


COLUMNS = [f.name for f in fields(ResultRow)]


def distinct_devices(labels) -> set[str]:
    """The devices that tell runs apart. Rows written before the CPU thread
    count was recorded say ``cpu``: that matches any ``cpu (N threads)``, so
    an older store is not marked mixed for the label's new form alone; rows
    written before the GPU model was recorded say ``cuda`` or ``cuda:<i>``,
    which match any ``cuda (<model>)``."""
    found = {str(label) for label in labels if str(label)}
    if any(label.startswith("cpu (") for label in found):
        found.discard("cpu")
    if any(label.startswith("cuda (") for label in found):
        found = {d for d in found if not re.fullmatch(r"cuda(:\d+)?", d)}
    return found


@dataclass(frozen=True)
class MetricInfo:
    """How a metric reads in tables: its label, its sense, and its scale."""

    name: str
    label: str
    higher_is_better: bool
    percent: bool = False  # shown x100 with two decimals
    caveat: str = ""  # what the best value can hide; said under its tables

    def column(self, split: str = "test") -> str:
        return f"{split}_{self.name}"


# Every metric a task can report; each has test_<name> in ResultRow.
METRICS = {
    m.name: m
    for m in (
        MetricInfo("acc", "Test accuracy (%)", True, percent=True),
        MetricInfo("rmse", "Test RMSE", False),
        MetricInfo("mae", "Test MAE", False),
        MetricInfo("nmi", "NMI", True),
        MetricInfo("f1", "Pairwise F1", True),
        MetricInfo("ari", "ARI", True),
        MetricInfo("modularity", "Modularity", True),
        MetricInfo(
            "conductance",
            "Conductance",
            False,
            caveat=(
                "Conductance falls as clusters merge: one cluster holding every "
                "node, or clusters that follow connected components, scores 0. "
                "Read it with NMI and modularity, and with the clusters used "
                "(non-empty clusters, avg_nodes_pooled in results.csv)."
            ),
        ),
    )
}
# The metrics reported with each headline metric, headline first.
METRIC_FAMILIES = {
    "acc": ("acc",),
    "rmse": ("rmse", "mae"),
    "nmi": ("nmi", "f1", "ari", "modularity", "conductance"),
}


def family(headline: str) -> tuple[MetricInfo, ...]:
    """The metrics a task with this headline reports, headline first."""
    return tuple(METRICS[name] for name in METRIC_FAMILIES[headline])


STATUSES = ("ok", "failed", "nan", "oom")
# A run is the same run only on the same data: edited data files give a new
# fingerprint, and resume redoes the runs rather than reporting the old rows.
RUN_KEY = ("config_hash", "data_fingerprint", "fold", "run")

# Headers results.csv was written with before the current one, oldest first:
# reading maps an old file by its own header, appending migrates it, and a
# damaged header is recovered from these. Add the old COLUMNS here whenever
# ResultRow changes.
OLD_SCHEMAS: list[list[str]] = [
    # poolbench 0.1 until protocol_folds and protocol_runs came
    (
        "experiment dataset pooler model protocol fold run seed config_hash "
        "best_epoch epochs train_acc val_acc test_acc val_loss test_loss "
        "sec_per_epoch total_sec precompute_sec peak_mem_mb mem_kind params "
        "avg_nodes_in avg_nodes_pooled selected data_fingerprint device torch "
        "torch_geometric poolbench_version git_commit started_at finished_at "
        "wandb_id error status"
    ).split(),
    # development builds between protocol_folds and the task columns
    (
        "experiment dataset pooler model protocol fold run seed config_hash "
        "protocol_folds protocol_runs best_epoch epochs train_acc val_acc "
        "test_acc val_loss test_loss sec_per_epoch total_sec precompute_sec "
        "peak_mem_mb mem_kind params avg_nodes_in avg_nodes_pooled selected "
        "data_fingerprint device torch torch_geometric poolbench_version "
        "git_commit started_at finished_at wandb_id error status"
    ).split(),
]


def cell_label(experiment: str, dataset: str, pooler: str) -> str:
    """An experiment in words: a custom name (a reproduction's, shared by all
    its cells) gets the cell added."""
    if experiment != f"{dataset}-{pooler}":
        return f"{experiment} ({pooler} on {dataset})"
    return experiment
