"""The evaluation protocol around single runs: folds, model selection, final runs.

Errica et al. (2020), as in PyDGN: outer stratified folds; inside each, an
optional grid is selected on the inner validation split only; then
``runs`` final trainings with distinct seeds, each scored on the fold's test
split at its best-validation epoch. Every finished run is one results row.
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
from poolbench.training.device import PeakMemory
from poolbench.training.seeding import run_seed, seed_everything
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


def run_protocol(
    exp,
    protocol: ProtocolConfig,
    device: torch.device,
    provenance: dict,
    done: set,
    on_row: Callable[[ResultRow], None],
    hooks=None,
) -> list[ResultRow]:
    """Run every (fold, run) not in ``done``; hand each finished row to ``on_row``."""
    splits = exp.splits()
    rows: list[ResultRow] = []
    memory = PeakMemory(device)
    base_seed = int(exp.cfg.seed)
    for fold, split in enumerate(splits):
        todo = [
            r for r in range(protocol.runs) if (exp.config_hash, fold, r) not in done
        ]
        if not todo:
            continue
        chosen: dict = {}
        if protocol.grid:
            chosen = select_on_validation(
                exp, split, fold, base_seed, protocol.grid_points(), device
            )
        fold_exp = exp.with_overrides(chosen) if chosen else exp
        for run in todo:
            seed = run_seed(base_seed, fold, run)
            row = ResultRow(
                experiment=exp.name,
                dataset=exp.dataset.name,
                pooler=exp.pooler_name,
                model=exp.model_name,
                protocol=protocol.name,
                fold=fold,
                run=run,
                seed=seed,
                config_hash=exp.config_hash,
                selected=json.dumps(chosen, sort_keys=True) if chosen else "",
                started_at=_now(),
                **provenance,
            )
            if hooks is not None:
                hooks.run_started(row)
            memory.reset()
            start = perf_counter()
            try:
                out = train_once(
                    fold_exp,
                    split,
                    seed,
                    device,
                    hooks.epoch_callback(row) if hooks is not None else None,
                )
                res, test = out["fit"], out["test"]
                row.best_epoch, row.epochs = res.best_epoch, res.epochs
                row.train_acc, row.val_acc, row.val_loss = (
                    res.train_acc,
                    res.val.acc,
                    res.val.loss,
                )
                row.test_acc, row.test_loss = test.acc, test.loss
                row.sec_per_epoch = res.sec_per_epoch
                row.avg_nodes_in = res.avg_nodes_in
                row.avg_nodes_pooled = res.avg_nodes_pooled
                row.params = sum(p.numel() for p in out["model"].parameters())
            except PoolbenchError:
                raise
            except RunFailure as exc:
                row.status, row.error = exc.status, str(exc)
            except Exception as exc:  # recorded as a failed row; the sweep goes on
                row.status = "oom" if _is_oom(exc) else "failed"
                row.error = _one_line(exc)
                if protocol.fail_fast:
                    traceback.print_exc()
                    raise
            row.total_sec = perf_counter() - start
            row.peak_mem_mb = memory.peak_mb()
            row.mem_kind = memory.kind
            row.finished_at = _now()
            on_row(row)
            rows.append(row)
            if hooks is not None:
                hooks.run_finished(row)
    return rows
