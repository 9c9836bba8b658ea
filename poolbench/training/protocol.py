"""The evaluation protocol around single runs: folds, model selection, final runs.

Errica et al. (2020), as in PyDGN: outer stratified folds; inside each, an
optional grid is selected on the inner validation split only
(:mod:`poolbench.training.selection`); then
``runs`` final trainings with distinct seeds, each scored on the fold's test
split at its best-validation epoch. Every finished run is one results row.
Folds are independent, so ``n_jobs > 1`` runs them in parallel processes
(:mod:`poolbench.training.parallel_folds`) with the same rows as in sequence.
"""

from __future__ import annotations

import itertools
import json
import math
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from time import perf_counter

import torch

from poolbench.errors import PoolbenchError, RunFailure
from poolbench.results.claims import FoldClaims
from poolbench.results.row import ResultRow, cell_label, utc_now
from poolbench.training.device import PeakMemory, device_label
from poolbench.training.outcome import dense_memory_verdict, failure_status
from poolbench.training.seeding import run_seed
from poolbench.training.selection import (
    SelectionLog,
    describe_failures,
    point_json,
    select_on_validation,
)
from poolbench.training.signals import Interrupted, signals_held, stop_on_signals
from poolbench.training.trainer import TrainedRun, fit_split


@dataclass
class ProtocolConfig:
    """``conf/protocol``: ``folds=1`` is a stratified holdout of ``test_size``.

    ``grid`` maps dotted config keys to the values tried; nested dicts (as
    ``+protocol.grid.model.hidden=[32,64]`` makes) are flattened to dotted keys.
    ``select_on`` is the one validation metric every grid point is compared on
    (``auto``: the task's headline metric). ``split`` says how folds are drawn:
    ``auto`` (stratified for classes, plain k-fold for real targets),
    ``stratified``, ``kfold`` or ``scaffold`` (molecules: a scaffold stays on
    one side); node tasks use ``public`` or ``random`` (``train_per_class`` and
    ``val_per_class`` labelled nodes per class, the rest test).
    """

    name: str = "cv10"
    folds: int = 10
    val_size: float = 0.1
    test_size: float = 0.1
    runs: int = 3
    grid: dict | None = field(default_factory=dict)
    select_on: str = "auto"
    split: str = "auto"
    train_per_class: int = 20
    val_per_class: int = 30
    n_jobs: int = 1
    fail_fast: bool = False

    def __post_init__(self) -> None:
        if self.folds < 1 or self.runs < 1:
            raise PoolbenchError("protocol.folds and protocol.runs must be ≥ 1")
        if self.n_jobs < 1:
            raise PoolbenchError(f"protocol.n_jobs must be ≥ 1, got {self.n_jobs}")
        if not 0 < self.val_size < 1 or not 0 < self.test_size < 1:
            raise PoolbenchError("protocol.val_size and test_size must lie in (0, 1)")
        if self.select_on != "auto" and not str(self.select_on).startswith("val_"):
            raise PoolbenchError(
                "protocol.select_on must be auto or a validation metric such as "
                f"val_acc or val_loss, got {self.select_on!r}"
            )
        if self.split not in SPLITS:
            raise PoolbenchError(
                f"protocol.split must be one of {', '.join(SPLITS)}, got {self.split!r}"
            )
        if self.train_per_class < 1 or self.val_per_class < 1:
            raise PoolbenchError(
                "protocol.train_per_class and protocol.val_per_class must be ≥ 1"
            )
        self.grid = flatten_grid(self.grid or {})
        for key, values in self.grid.items():
            if key.partition(".")[0] not in GRID_SECTIONS or "." not in key:
                # The data, the seed and the protocol are fixed before a fold
                # starts: a grid over them would train the same thing under
                # another label and record it as "selected".
                raise PoolbenchError(
                    f"protocol.grid.{key}: a grid searches trainer.*, model.* and "
                    "pooler.* keys only; sweep other keys with -m (e.g. "
                    "poolbench train -m dataset=mutag,proteins)"
                )
            if not isinstance(values, list) or not values:
                raise PoolbenchError(
                    f"protocol.grid.{key} must be a non-empty list of values, "
                    f"e.g. +protocol.grid.{key}=[a,b]"
                )

    def grid_points(self) -> list[dict]:
        keys = list(self.grid)
        return [
            dict(zip(keys, vals)) for vals in itertools.product(*self.grid.values())
        ]


# What one fold can select between: the rest is fixed per experiment.
GRID_SECTIONS = ("trainer", "model", "pooler")

SPLITS = ("auto", "stratified", "kfold", "scaffold", "public", "random", "none")


def flatten_grid(grid: dict, prefix: str = "") -> dict:
    """``{"model": {"hidden": [32, 64]}}`` -> ``{"model.hidden": [32, 64]}``."""
    flat: dict = {}
    for key, value in grid.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_grid(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def train_once(exp, split, seed: int, device, on_epoch=None) -> TrainedRun:
    """Train one model on ``split`` and score it; the test set is read last."""
    model, task, test, result = fit_split(exp, split, seed, device, on_epoch)
    # the same numerics (autocast or not) as the validation passes inside fit
    scores = task.evaluate(model, test, device, exp.trainer)
    return TrainedRun(model, result, scores)


def fill_scores(row: ResultRow, prefix: str, scores: dict[str, float]) -> None:
    """``row.<prefix>_<metric>`` for every score; each metric has its column."""
    for name, value in scores.items():
        column = f"{prefix}_{name}"
        if not hasattr(row, column):
            raise AttributeError(f"ResultRow has no column {column}")
        setattr(row, column, value)


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


def select_for_fold(exp, protocol, fold: int, split, device, selection):
    """The fold's chosen grid point (``{}`` without a grid), or why none could be.

    Returns ``(point, failure)``; ``failure`` is a ``RunFailure`` when every
    grid point failed, so the final runs are recorded as failed rows.
    """
    if not protocol.grid:
        return {}, None
    chosen, candidates = select_on_validation(
        exp,
        split,
        fold,
        protocol.grid_points(),
        device,
        protocol.select_on,
        selection,
    )
    if chosen is not None:
        return json.loads(chosen.point), None
    statuses = {c.status for c in candidates}
    status = statuses.pop() if len(statuses) == 1 else "failed"
    return {}, RunFailure(status, describe_failures(candidates))


def run_fold(
    exp,
    protocol,
    job: FoldJob,
    split,
    device,
    provenance,
    on_row,
    hooks=None,
    selection: SelectionLog | None = None,
    claims: FoldClaims | None = None,
) -> list[ResultRow]:
    """Select on validation (when a grid is given), then the fold's final runs.

    With ``claims``, the fold is held while it runs; a fold another process
    holds, and runs it finished since the store was read, are left out.
    """
    if claims is None:
        return _run_fold(exp, protocol, job, split, device, provenance, on_row,
                         hooks, selection)  # fmt: skip
    where = f"{cell_label(exp.name, exp.dataset.name, exp.pooler_name)} fold {job.fold}"
    with claims.fold(job.fold) as holder:
        if holder is not None:
            _skipped(hooks, len(job.runs))
            print(
                f"poolbench: {where} is being run by another process ({holder}): "
                "left to it; its rows go to the same store",
                file=sys.stderr,
            )
            return []
        finished = claims.runs_done(job.fold)
        left = [run for run in job.runs if run not in finished]
        if len(left) < len(job.runs):
            _skipped(hooks, len(job.runs) - len(left))
            print(
                f"poolbench: {where}: {len(job.runs) - len(left)} run(s) were "
                "finished by another process since this command started: not "
                "run again",
                file=sys.stderr,
            )
        if not left:
            return []
        if selection is not None:  # grid points a former holder finished
            selection.refresh()
        return _run_fold(exp, protocol, FoldJob(job.fold, left), split, device,
                         provenance, on_row, hooks, selection)  # fmt: skip


def _skipped(hooks, count: int) -> None:
    if hooks is not None and hasattr(hooks, "runs_skipped"):
        hooks.runs_skipped(count)


def _run_fold(
    exp, protocol, job, split, device, provenance, on_row, hooks, selection
) -> list[ResultRow]:
    memory = PeakMemory(device)
    base_seed = int(exp.cfg.seed)
    halted = None  # a stop signal during model selection
    try:
        chosen, failure = select_for_fold(
            exp, protocol, job.fold, split, device, selection
        )
    except Interrupted as exc:
        # No final run was in progress: the fold's first one is written as
        # failed with the reason, so the stop leaves a row like any other.
        halted = exc
        chosen, failure = {}, RunFailure("failed", f"{exc.reason} in model selection")
    fold_exp = exp.with_overrides(chosen) if chosen else exp
    rows: list[ResultRow] = []
    # Dense poolers on big graphs would die mid-run; decide before starting.
    if failure is None:
        too_big = dense_memory_verdict(fold_exp, device)
        failure = RunFailure("oom", too_big) if too_big else None
    for run in job.runs:
        row = ResultRow(
            experiment=exp.name,
            dataset=exp.dataset.name,
            pooler=exp.pooler_name,
            model=exp.model_name,
            protocol=protocol.name,
            protocol_folds=protocol.folds,
            protocol_runs=protocol.runs,
            fold=job.fold,
            run=run,
            seed=run_seed(base_seed, job.fold, run),
            config_hash=exp.config_hash,
            task=exp.task.name,
            metric=exp.task.primary.name,
            selected=point_json(chosen) if chosen else "",
            started_at=utc_now(),
            **provenance,
        )
        # this process's threads: a parallel worker may run with fewer
        row.device = device_label(device)
        if hooks is not None:
            hooks.run_started(row)
        memory.reset()
        start = perf_counter()
        stopped = None
        try:
            if failure is not None:
                raise failure
            on_epoch = hooks.epoch_callback(row) if hooks is not None else None
            out = train_once(fold_exp, split, row.seed, device, on_epoch)
            row.precompute_sec = fold_exp.take_precompute_sec()
            res, test = out.fit, out.test
            row.best_epoch, row.epochs = res.best_epoch, res.epochs
            if fold_exp.task.train_metric is not None:
                fill_scores(row, "train", {fold_exp.task.train_metric: res.train_score})
            row.val_loss, row.test_loss = res.val.loss, test.loss
            fill_scores(row, "val", res.val.scores)
            fill_scores(row, "test", test.scores)
            if not math.isfinite(getattr(row, f"test_{row.metric}")):
                # an ok row must carry its score: a NaN would count as a run
                # yet stay out of the mean
                raise RunFailure("nan", f"non-finite test {row.metric}")
            row.sec_per_epoch = res.sec_per_epoch
            row.avg_nodes_in = res.avg_nodes_in
            row.avg_nodes_pooled = res.avg_nodes_pooled
            if test.sizes is not None:
                row.avg_nodes_in, row.avg_nodes_pooled = test.sizes
            row.params = sum(p.numel() for p in out.model.parameters())
        except PoolbenchError:
            raise
        except Interrupted as exc:  # this run is written as failed, no other starts
            row.status, row.error, stopped = "failed", exc.reason, exc
        except Exception as exc:  # recorded as a failed row; the sweep goes on
            row.status, row.error = failure_status(exc)
            if protocol.fail_fast and not isinstance(exc, RunFailure):
                traceback.print_exc()
        with signals_held():  # a signal arriving now is raised after the write
            row.total_sec = perf_counter() - start
            row.peak_mem_mb = memory.peak_mb()
            row.mem_kind = memory.kind
            row.finished_at = utc_now()
            on_row(row)  # the failed row is written even when the sweep stops next
        stopped = stopped or halted
        if stopped is not None:
            raise stopped
        rows.append(row)
        if hooks is not None:
            hooks.run_finished(row)
        if row.status != "ok" and protocol.fail_fast:
            raise FailFast(
                f"{row.label} {row.status}: {row.error} "
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
    selection: SelectionLog | None = None,
    claims: FoldClaims | None = None,
) -> list[ResultRow]:
    """Run every (fold, run) not in ``done``; hand each finished row to ``on_row``.

    ``selection`` receives every grid candidate and holds those already done.
    ``claims`` (:mod:`poolbench.results.claims`): each fold is held while it
    runs, so a second command on the same config takes other folds.
    A stop signal (:mod:`poolbench.training.signals`) writes the run in
    progress as failed and raises :class:`Interrupted` out of here.
    With ``protocol.n_jobs > 1`` the folds run in that many spawned processes;
    ``on_row`` and ``selection`` then run in the workers, so they must be
    picklable (the stores' locked appends are); hooks marked
    ``runs_in_worker`` (W&B) run in the workers as here, the others (progress)
    hear of each run when its fold ends.
    """
    with stop_on_signals():
        return _run_folds(
            exp, protocol, device, provenance, done, on_row, hooks, selection, claims
        )


def _run_folds(
    exp, protocol, device, provenance, done, on_row, hooks, selection, claims
):
    splits = exp.splits()
    jobs = pending_folds(exp, protocol, done)
    if protocol.n_jobs > 1 and len(jobs) > 1:
        from poolbench.training.parallel_folds import run_folds_in_processes

        return run_folds_in_processes(
            exp, protocol, jobs, splits, device, provenance, on_row, hooks,
            selection, claims,
        )  # fmt: skip
    rows: list[ResultRow] = []
    for job in jobs:
        rows += run_fold(
            exp,
            protocol,
            job,
            splits[job.fold],
            device,
            provenance,
            on_row,
            hooks,
            selection,
            claims,
        )
    return rows
