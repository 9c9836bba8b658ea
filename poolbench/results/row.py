"""The results schema: one row per final run, the only input of tables and plots."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


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
    task: str = "graph"
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


COLUMNS = [f.name for f in fields(ResultRow)]
STATUSES = ("ok", "failed", "nan", "oom")
RUN_KEY = ("config_hash", "fold", "run")
