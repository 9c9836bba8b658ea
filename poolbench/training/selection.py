"""Model selection inside one outer fold: every grid point, one metric, test unseen.

Each grid point is trained on the fold's inner-train split (seeded per fold,
so every point starts from the same draw) and scored on the inner validation
split at its own best epoch. Early stopping inside a candidate follows its own
``trainer.monitor``; the points are compared on one metric for all, the
protocol's ``select_on`` (``auto``: the task's headline metric, validation
accuracy for classification as in Errica et al. 2020, RMSE for regression),
with the validation loss breaking ties (the headline metric when selecting on
the loss) and then grid order.

A point that fails (NaN, out of memory, an exception), or whose dense-memory
estimate is too large, is recorded as a failed candidate and the others
compete. Every candidate is one row of ``selection.csv`` beside the results,
so a reviewer can see what each fold chose and why, and a resumed sweep
reuses candidates already trained.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from time import perf_counter

from poolbench.errors import PoolbenchError, RunFailure
from poolbench.results.row import utc_now
from poolbench.training.outcome import dense_memory_verdict, failure_status
from poolbench.training.seeding import run_seed
from poolbench.training.trainer import fit_split

# Where a candidate run draws its seed: run -1 of its fold, never a final run's.
SELECTION_RUN = -1


@dataclass
class CandidateRow:
    """One grid point trained and scored on one fold's inner validation split."""

    experiment: str
    dataset: str
    pooler: str
    config_hash: str
    data_fingerprint: str
    fold: int
    point: str  # the grid point as sorted JSON: {"trainer.lr": 0.001, ...}
    select_on: str  # e.g. val_acc: the metric every point is compared on
    seed: int
    best_epoch: int = -1
    epochs: int = 0
    score: float = float("nan")  # the select_on value at the best epoch
    tiebreak_on: str = ""
    tiebreak: float = float("nan")
    val_loss: float = float("nan")
    val_scores: str = ""  # every validation score, JSON
    total_sec: float = float("nan")
    started_at: str = ""
    finished_at: str = ""
    error: str = ""
    status: str = "ok"  # last: torn lines are told from complete ones by it

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def key(self) -> tuple[str, str, int, str]:
        return (self.config_hash, self.data_fingerprint, self.fold, self.point)


def point_json(point: dict) -> str:
    return json.dumps(point, sort_keys=True)


@dataclass(frozen=True)
class SelectionRule:
    """The metric grid points are compared on, the tie-break, and their sense."""

    select_on: str
    higher: bool
    tiebreak_on: str
    tiebreak_higher: bool

    @classmethod
    def for_task(cls, task, select_on: str) -> SelectionRule:
        select_on = task.resolve_select_on(select_on)
        task.check_monitor("protocol.select_on", select_on)
        other = "val_loss" if select_on != "val_loss" else f"val_{task.primary.name}"
        return cls(
            select_on,
            task.higher_is_better(select_on),
            other,
            task.higher_is_better(other),
        )

    def ranking(self, c: CandidateRow) -> tuple[float, float]:
        """Higher is better: the selection metric, then the tie-break."""
        score = c.score if self.higher else -c.score
        tiebreak = c.tiebreak if self.tiebreak_higher else -c.tiebreak
        return score, tiebreak


def choose(candidates: list[CandidateRow], rule: SelectionRule) -> CandidateRow | None:
    """The best ok candidate under ``rule``; the first in grid order on ties."""
    best = None
    for c in candidates:
        if c.status != "ok" or math.isnan(c.score) or math.isnan(c.tiebreak):
            continue
        if best is None or rule.ranking(c) > rule.ranking(best):
            best = c
    return best


@dataclass
class SelectionLog:
    """Where candidates go, and those a previous attempt already finished.

    ``reread`` (picklable, for fold workers) gives the finished candidates as
    the store holds them now: a fold taken over from another command, which
    may have trained some since this one read the store, reuses them.
    """

    on_candidate: Callable[[CandidateRow], None] | None = None
    done: dict[tuple, CandidateRow] = field(default_factory=dict)
    reread: Callable[[], dict[tuple, CandidateRow]] | None = None

    def record(self, candidate: CandidateRow) -> None:
        if self.on_candidate is not None:
            self.on_candidate(candidate)

    def refresh(self) -> None:
        if self.reread is not None:
            self.done.update(self.reread())


def stored_candidates(directory: str) -> dict[tuple, CandidateRow]:
    """The finished candidates of ``<directory>/selection.csv`` now."""
    from poolbench.results.store import CsvStore

    return candidates_done(CsvStore(directory, "selection.csv", CandidateRow).read())


def candidates_done(frame) -> dict[tuple, CandidateRow]:
    """The ok candidates of a ``selection.csv`` frame, by key (latest wins)."""
    done: dict[tuple, CandidateRow] = {}
    if frame is None or frame.empty:
        return done
    types = {f.name: f.type for f in fields(CandidateRow)}
    for record in frame[frame["status"] == "ok"].to_dict("records"):
        try:
            values = {
                k: _parse(types[k], record.get(k, "")) for k in types if k in record
            }
            row = CandidateRow(**values)
        except (TypeError, ValueError):
            continue  # a row we cannot read is retrained, never trusted
        done[row.key] = row
    return done


def _parse(kind: str, value):
    if kind == "int":
        return int(float(value))
    if kind == "float":
        return float(value) if value != "" else float("nan")
    return "" if value is None else str(value)


def evaluate_point(exp, split, fold: int, point: dict, device, rule: SelectionRule):
    """Train one grid point on inner-train, score it on validation; no test."""
    candidate = exp.with_overrides(point)
    row = CandidateRow(
        experiment=exp.name,
        dataset=exp.dataset.name,
        pooler=exp.pooler_name,
        config_hash=exp.config_hash,
        data_fingerprint=exp.dataset.fingerprint,
        fold=fold,
        point=point_json(point),
        select_on=rule.select_on,
        tiebreak_on=rule.tiebreak_on,
        seed=run_seed(int(exp.cfg.seed), fold, SELECTION_RUN),
        started_at=utc_now(),
    )
    start = perf_counter()
    try:
        too_big = dense_memory_verdict(candidate, device)
        if too_big:
            raise RunFailure("oom", too_big)
        result = fit_split(candidate, split, row.seed, device)[3]
        row.best_epoch, row.epochs = result.best_epoch, result.epochs
        row.score = result.val.value(rule.select_on)
        row.tiebreak = result.val.value(rule.tiebreak_on)
        row.val_loss = result.val.loss
        row.val_scores = json.dumps(result.val.scores, sort_keys=True)
    except PoolbenchError:
        raise
    except Exception as exc:  # a failed point is recorded; the others compete
        row.status, row.error = failure_status(exc)
    row.total_sec = perf_counter() - start
    row.finished_at = utc_now()
    return row


def select_on_validation(
    exp, split, fold: int, points: list[dict], device, select_on: str, log=None
) -> tuple[CandidateRow | None, list[CandidateRow]]:
    """Every grid point scored on the fold's validation split; the chosen one.

    Returns ``(chosen, candidates)``; ``chosen`` is None when every point
    failed. Candidates already in ``log.done`` (same config, data, fold and
    point, status ok) are reused, not retrained: they are deterministic.
    """
    rule = SelectionRule.for_task(exp.task, select_on)
    log = log or SelectionLog()
    candidates = []
    for point in points:
        key = (exp.config_hash, exp.dataset.fingerprint, fold, point_json(point))
        row = log.done.get(key)
        if row is None or row.status != "ok":
            row = evaluate_point(exp, split, fold, point, device, rule)
            log.record(row)
        candidates.append(row)
    chosen = choose(candidates, rule)
    return chosen, candidates


def describe_failures(candidates: list[CandidateRow]) -> str:
    """One line for final rows when no grid point could be chosen."""
    parts = [f"{c.point} {c.status}: {c.error}" for c in candidates[:3]]
    more = f" (+{len(candidates) - 3} more)" if len(candidates) > 3 else ""
    return f"every grid point failed in selection: {'; '.join(parts)}{more}"
