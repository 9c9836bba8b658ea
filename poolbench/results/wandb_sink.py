"""Weights & Biases as a second sink for results; the CSV store stays the truth.

One W&B run per final run (opened and finished inside the job, wandb 1314),
grouped by experiment, ``job_type`` = fold, with a deterministic name. With no
API key it runs offline; ``wandb sync`` uploads later. A logging failure warns
and never breaks training (wandb 1771, 2092).
"""

from __future__ import annotations

import os
import warnings

from poolbench.results.row import ResultRow


class WandbSink:
    # Under protocol.n_jobs > 1 each fold's worker process opens its own runs:
    # run_started must set row.wandb_id before the worker writes the row.
    runs_in_worker = True

    def __init__(
        self, config: dict, project: str, mode: str, directory: str, entity=None
    ):
        self.config = config
        self.project = project
        self.entity = entity
        self.directory = directory
        if mode == "auto":
            mode = "online" if os.environ.get("WANDB_API_KEY") else "offline"
        self.mode = mode
        self.run = None

    def _guard(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # never let logging break a run
            warnings.warn(
                f"wandb {what} failed, continuing without it: {exc}", stacklevel=2
            )
            self.run = None
            return None

    def run_started(self, row: ResultRow) -> None:
        import wandb

        os.makedirs(self.directory, exist_ok=True)
        name = f"{row.experiment}-{row.config_hash}-f{row.fold}r{row.run}"
        self.run = self._guard(
            "init",
            wandb.init,
            project=self.project,
            entity=self.entity,
            mode=self.mode,
            dir=self.directory,
            group=f"{row.experiment}-{row.config_hash}",
            job_type=f"fold{row.fold}",
            name=name,
            config={
                **self.config,
                "fold": row.fold,
                "run": row.run,
                "run_seed": row.seed,
            },
            reinit="finish_previous",
        )
        if self.run is not None:
            row.wandb_id = self.run.id

    def epoch_callback(self, row: ResultRow):
        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            if self.run is not None:
                self._guard("log", self.run.log, {"epoch": epoch, **metrics})

        return on_epoch

    def run_finished(self, row: ResultRow) -> None:
        if self.run is None:
            return
        summary = {
            k: v
            for k, v in row.as_dict().items()
            if isinstance(v, (int, float)) and k not in ("fold", "run", "seed")
        }
        summary["status"] = row.status
        self._guard("summary", self.run.summary.update, summary)
        # A failed run must not show as finished (wandb 4591).
        self._guard("finish", self.run.finish, exit_code=0 if row.status == "ok" else 1)
        self.run = None
