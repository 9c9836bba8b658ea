"""The evaluation protocol around single runs: folds, model selection, final runs.

Errica et al. (2020), as in PyDGN: outer stratified folds; inside each, an
optional grid is selected on the inner validation split only; then
``runs`` final trainings with distinct seeds, each scored on the fold's test
split at its best-validation epoch. Every finished run is one results row.
Folds are independent, so ``n_jobs > 1`` runs them in parallel processes
(:mod:`poolbench.training.parallel_folds`) with the same rows as in sequence.
"""

from __future__ import annotations

import itertools
import json
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from time import perf_counter

import torch

from poolbench.errors import PoolbenchError, RunFailure
from poolbench.results.row import ResultRow
from poolbench.training.device import PeakMemory, available_memory_mb
from poolbench.training.seeding import run_seed, seed_everything
from poolbench.training.signals import Interrupted, signals_held, stop_on_signals
from poolbench.training.trainer import evaluate, fit


@dataclass
class ProtocolConfig:
    """``conf/protocol``: ``folds=1`` is a stratified holdout of ``test_size``."""

    name: str = "cv10"
    folds: int = 10
    val_size: float = 0.1
    test_size: float = 0.1
    runs: int = 3
    grid: dict = field(default_factory=dict)
    n_jobs: int = 1
    fail_fast: bool = False

    def __post_init__(self) -> None:
        if self.folds < 1 or self.runs < 1:
            raise PoolbenchError("protocol.folds and protocol.runs must be ≥ 1")
        if self.n_jobs < 1:
            raise PoolbenchError(f"protocol.n_jobs must be ≥ 1, got {self.n_jobs}")
        if not 0 < self.val_size < 1 or not 0 < self.test_size < 1:
            raise PoolbenchError("protocol.val_size and test_size must lie in (0, 1)")
        for key, values in self.grid.items():
            if not isinstance(values, list) or not values:
                raise PoolbenchError(f"protocol.grid.{key} must be a non-empty list")

    def grid_points(self) -> list[dict]:
        keys = list(self.grid)
        return [
            dict(zip(keys, vals)) for vals in itertools.product(*self.grid.values())
        ]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".replace("\n", " ")[:500]


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )


def train_once(exp, split, seed: int, device, on_epoch=None) -> dict:
    """Train one model on ``split`` and score it; the test set is read last."""
    generator = seed_everything(seed)
    model = exp.make_model(device)
    train = exp.loader(split.train, shuffle=True, generator=generator)
    val = exp.loader(split.val, shuffle=False, generator=None)
    result = fit(model, train, val, exp.trainer, device, on_epoch)
    test = evaluate(
        model, exp.loader(split.test, shuffle=False, generator=None), device
    )
    return {
        "model": model,
        "fit": result,
        "test": test,
    }


def select_on_validation(exp, split, fold: int, base_seed: int, points, device):
    """The grid point with the best inner-validation score (test never read)."""
    best, best_score = points[0], None
    for point in points:
        candidate = exp.with_overrides(point)
        generator = seed_everything(run_seed(base_seed, fold, -1))
        model = candidate.make_model(device)
        train = candidate.loader(split.train, shuffle=True, generator=generator)
        val = candidate.loader(split.val, shuffle=False, generator=None)
        res = fit(model, train, val, candidate.trainer, device)
        score = (
            -res.val.loss if candidate.trainer.monitor == "val_loss" else res.val.acc
        )
        if best_score is None or score > best_score:
            best, best_score = point, score
    return best


def dense_memory_verdict(exp, device) -> str:
    """Why a dense pooler cannot fit in memory here, or "" when it can."""
    need = exp.dense_memory_mb()
    if need == 0:
        return ""
    have = available_memory_mb(device)
    if need <= 0.8 * have:
        return ""
    return (
        f"estimated {need:.0f} MB for the dense pooler's padded batches exceeds "
        f"80% of the {have:.0f} MB available; lower trainer.batch_size"
    )


class FailFast(RuntimeError):
    """A run failed under ``protocol.fail_fast``: the sweep stops, not just the run."""


@dataclass
class FoldJob:
    """The runs still to do in one outer fold."""

    fold: int
    runs: list[int]


def pending_folds(exp, protocol: ProtocolConfig, done: set) -> list[FoldJob]:
    jobs = []
    for fold in range(protocol.folds):
        todo = [
            r for r in range(protocol.runs) if (exp.config_hash, fold, r) not in done
        ]
        if todo:
            jobs.append(FoldJob(fold, todo))
    return jobs


def run_fold(
    exp, protocol, job: FoldJob, split, device, provenance, on_row, hooks=None
) -> list[ResultRow]:
    """Select on validation (when a grid is given), then the fold's final runs."""
    memory = PeakMemory(device)
    base_seed = int(exp.cfg.seed)
    chosen: dict = {}
    if protocol.grid:
        chosen = select_on_validation(
            exp, split, job.fold, base_seed, protocol.grid_points(), device
        )
    fold_exp = exp.with_overrides(chosen) if chosen else exp
    rows: list[ResultRow] = []
    # Dense poolers on big graphs would die mid-run; decide before starting.
    too_big = dense_memory_verdict(fold_exp, device)
    for run in job.runs:
        row = ResultRow(
            experiment=exp.name,
            dataset=exp.dataset.name,
            pooler=exp.pooler_name,
            model=exp.model_name,
            protocol=protocol.name,
            fold=job.fold,
            run=run,
            seed=run_seed(base_seed, job.fold, run),
            config_hash=exp.config_hash,
            selected=json.dumps(chosen, sort_keys=True) if chosen else "",
            started_at=_now(),
            **provenance,
        )
        if hooks is not None:
            hooks.run_started(row)
        memory.reset()
        start = perf_counter()
        stopped = None
        try:
            if too_big:
                raise RunFailure("oom", too_big)
            on_epoch = hooks.epoch_callback(row) if hooks is not None else None
            out = train_once(fold_exp, split, row.seed, device, on_epoch)
            row.precompute_sec = fold_exp.take_precompute_sec()
            res, test = out["fit"], out["test"]
            row.best_epoch, row.epochs = res.best_epoch, res.epochs
            row.train_acc, row.val_acc = res.train_acc, res.val.acc
            row.val_loss = res.val.loss
            row.test_acc, row.test_loss = test.acc, test.loss
            row.sec_per_epoch = res.sec_per_epoch
            row.avg_nodes_in = res.avg_nodes_in
            row.avg_nodes_pooled = res.avg_nodes_pooled
            row.params = sum(p.numel() for p in out["model"].parameters())
        except PoolbenchError:
            raise
        except Interrupted as exc:  # this run is written as failed, no other starts
            row.status, row.error, stopped = "failed", exc.reason, exc
        except RunFailure as exc:
            row.status, row.error = exc.status, str(exc)
        except Exception as exc:  # recorded as a failed row; the sweep goes on
            row.status = "oom" if _is_oom(exc) else "failed"
            row.error = _one_line(exc)
            if protocol.fail_fast:
                traceback.print_exc()
        with signals_held():  # a signal arriving now is raised after the write
            row.total_sec = perf_counter() - start
            row.peak_mem_mb = memory.peak_mb()
            row.mem_kind = memory.kind
            row.finished_at = _now()
            on_row(row)  # the failed row is written even when the sweep stops next
        if stopped is not None:
            raise stopped
        rows.append(row)
        if hooks is not None:
            hooks.run_finished(row)
        if row.status != "ok" and protocol.fail_fast:
            raise FailFast(
                f"{exp.name} fold {job.fold} run {run} {row.status}: {row.error} "
                "(protocol.fail_fast=true stops the sweep)"
            )
    return rows


def run_protocol(
    exp,
    protocol: ProtocolConfig,
    device: torch.device,
    provenance: dict,
    done: set,
    on_row: Callable[[ResultRow], None],
    hooks=None,
) -> list[ResultRow]:
    """Run every (fold, run) not in ``done``; hand each finished row to ``on_row``.

    A stop signal (:mod:`poolbench.training.signals`) writes the run in
    progress as failed and raises :class:`Interrupted` out of here.
    With ``protocol.n_jobs > 1`` the folds run in that many spawned processes;
    ``on_row`` then runs in the workers, so it must be picklable (the store's
    locked ``append`` is), and ``hooks`` hear of each run when its fold ends.
    """
    with stop_on_signals():
        return _run_folds(exp, protocol, device, provenance, done, on_row, hooks)


def _run_folds(exp, protocol, device, provenance, done, on_row, hooks):
    splits = exp.splits()
    jobs = pending_folds(exp, protocol, done)
    if protocol.n_jobs > 1 and len(jobs) > 1:
        from poolbench.training.parallel_folds import run_folds_in_processes

        return run_folds_in_processes(
            exp, protocol, jobs, splits, device, provenance, on_row, hooks
        )
    rows: list[ResultRow] = []
    for job in jobs:
        rows += run_fold(
            exp, protocol, job, splits[job.fold], device, provenance, on_row, hooks
        )
    return rows
