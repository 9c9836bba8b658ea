"""What the user sees while runs go: a rich progress display of runs and epochs."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from poolbench.results.row import ResultRow


class ProgressHooks:
    """Runs and epochs bars on a terminal; one line per finished run otherwise."""

    def __init__(self, title: str, total_runs: int, max_epochs: int):
        self.console = Console(stderr=True, log_path=False)
        self.live = self.console.is_terminal
        self.max_epochs = max_epochs
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=self.console,
            disable=not self.live,
        )
        self.runs = self.progress.add_task(title, total=total_runs, info="")
        self.epochs = None

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    def run_started(self, row: ResultRow) -> None:
        label = f"{row.pooler} on {row.dataset} fold {row.fold} run {row.run}"
        if self.epochs is None:
            self.epochs = self.progress.add_task(label, total=self.max_epochs, info="")
        else:
            self.progress.reset(self.epochs, total=self.max_epochs, description=label)

    def epoch_callback(self, row: ResultRow):
        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            # every validation score the task reports, then its loss
            info = " ".join(
                f"{k} {v:.3f}"
                for k, v in metrics.items()
                if k.startswith("val_") and k != "val_loss"
            )
            info += f" val_loss {metrics['val_loss']:.3f}"
            self.progress.update(self.epochs, completed=epoch + 1, info=info)

        return on_epoch

    def runs_skipped(self, count: int) -> None:
        """Runs another process of the same config took: not this bar's."""
        total = self.progress.tasks[self.runs].total or 0
        self.progress.update(self.runs, total=max(0, total - count))

    def run_finished(self, row: ResultRow) -> None:
        self.progress.advance(self.runs)
        score = f"test_{row.metric}"
        line = (
            f"{row.label}: {row.status} "
            f"{score}={getattr(row, score):.4f} epochs={row.epochs} "
            f"sec/epoch={row.sec_per_epoch:.4f}"
        )
        if row.status != "ok":
            line += f" ({row.error})"
        if self.live:
            self.progress.console.log(line)
        else:
            print(line, file=sys.stderr, flush=True)


class Hooks:
    """Fan each event out to several hook objects."""

    def __init__(self, *hooks):
        self.hooks = [h for h in hooks if h is not None]

    def run_started(self, row):
        for h in self.hooks:
            h.run_started(row)

    def epoch_callback(self, row):
        callbacks = [h.epoch_callback(row) for h in self.hooks]

        def on_epoch(epoch, metrics):
            for cb in callbacks:
                if cb is not None:
                    cb(epoch, metrics)

        return on_epoch

    def run_finished(self, row):
        for h in self.hooks:
            h.run_finished(row)

    def runs_skipped(self, count):
        for h in self.hooks:
            if hasattr(h, "runs_skipped"):
                h.runs_skipped(count)
