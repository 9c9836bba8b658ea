"""Run the cells of a reproduction through the normal protocol; collect ours.

Each cell is composed from the real configs (``experiment=<cell's>
dataset=<cell's>`` plus the cell's and the budget's overrides) and run with
:func:`poolbench.runner.run_experiment`, so rows, selection candidates and
resume are exactly those of ``poolbench train``: rerunning skips finished runs.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field

import pandas as pd
from omegaconf import DictConfig

from poolbench.errors import PoolbenchError
from poolbench.experiment import config_hash, load_dataset
from poolbench.hydra_app import compose_checked, replace_whole_grid
from poolbench.reproduce.spec import Budget, Cell, Reproduction
from poolbench.results.store import CsvStore, ResultsStore
from poolbench.training.selection import CandidateRow


@dataclass
class CellRun:
    """One cell: its config, and (after running) its rows' numbers."""

    cell: Cell
    dataset_config: str
    overrides: list[str]
    cfg: DictConfig
    config_hash: str
    dataset_name: str = ""
    values: list[float] = field(default_factory=list)  # % per fold or per run
    keys: list[int] = field(default_factory=list)  # the fold (or run) of each
    expected: int = 0
    ok_runs: int = 0
    expected_runs: int = 0
    failed: int = 0
    compute_sec: float = 0.0  # final runs plus selection candidates
    span: tuple[str, str] = ("", "")  # first start, last finish of its rows
    commits: set[str] = field(default_factory=set)  # poolbench commits of its rows
    selected: dict[str, Counter] = field(default_factory=dict)

    @property
    def stand_in(self) -> bool:
        """Run on another set than the paper's: a budget's ``dataset_map``, or
        any ``dataset.*`` override (``--set dataset.source=generated`` makes
        the set another one under the same config name)."""
        if self.dataset_config != self.cell.dataset:
            return True
        keys = (o.lstrip("+~").split("=")[0] for o in self.overrides)
        # the cell's own dataset=<config> comes first; a later one replaces it
        later = [k for k in keys if k == "dataset" or k.startswith("dataset.")][1:]
        return bool(later)


def cell_overrides(
    cell: Cell,
    dataset: str,
    budget: Budget,
    results_dir: str,
    extra: list[str] | tuple = (),
) -> list[str]:
    """The cell's train overrides; the user's ``--set`` (``extra``) go last,
    so they win over every cut of the budget."""
    return [
        f"experiment={cell.experiment}",
        f"dataset={dataset}",
        *cell.overrides,
        *budget.overrides,
        *budget.per_method.get(cell.method, []),
        # "Method@dataset" narrows a budget's cut to one cell (applied last)
        *budget.per_method.get(f"{cell.method}@{cell.dataset}", []),
        *extra,
        f"results.dir={results_dir}",
    ]


def compose_cell(overrides: list[str]) -> DictConfig:
    return compose_checked(replace_whole_grid(overrides))


def plan(
    spec: Reproduction, budget: Budget, results_dir: str, extra=()
) -> list[CellRun]:
    """Every cell of the budget composed and checked (as ``train`` checks a
    job) before any cell runs."""
    from poolbench.validation.config import check_config

    runs = []
    for cell, dataset in spec.cells_for(budget):
        overrides = cell_overrides(cell, dataset, budget, results_dir, extra)
        cfg = compose_cell(overrides)
        check_config(cfg)
        runs.append(CellRun(cell, dataset, overrides, cfg, config_hash(cfg)))
    if not runs:
        raise PoolbenchError(f"budget {budget.name} of {spec.name} runs no cell")
    return runs


def run_cells(runs: list[CellRun], log) -> float:
    """Run each cell (resuming); returns this invocation's wall seconds."""
    from poolbench.runner import run_experiment

    start = time.perf_counter()
    for i, run in enumerate(runs, 1):
        log(
            f"[{i}/{len(runs)}] {run.cell.method} on {run.dataset_config}: "
            + " ".join(run.overrides)
        )
        run_experiment(run.cfg)
    return time.perf_counter() - start


def collect(runs: list[CellRun], spread: str, results_dir: str) -> None:
    """Fill each cell's numbers from the store (latest attempt of each run)."""
    latest = ResultsStore(results_dir).latest()
    candidates = CsvStore(results_dir, "selection.csv", CandidateRow).read()
    for run in runs:
        dataset = load_dataset(run.cfg)
        run.dataset_name = dataset.name
        mine = latest[
            (latest["config_hash"] == run.config_hash)
            & (latest["data_fingerprint"] == dataset.fingerprint)
        ]
        p = run.cfg.protocol
        run.expected_runs = int(p.folds) * int(p.runs)
        ok = mine[mine["status"] == "ok"]
        run.ok_runs, run.failed = len(ok), len(mine) - len(ok)
        if spread == "folds":
            per = ok.groupby("fold")["test_acc"].mean() * 100
            run.expected = int(p.folds)
        else:
            per = ok.set_index(ok["fold"] * int(p.runs) + ok["run"])["test_acc"] * 100
            run.expected = run.expected_runs
        per = per.sort_index()
        run.values, run.keys = per.tolist(), [int(k) for k in per.index]
        run.compute_sec = float(mine["total_sec"].sum())
        run.commits = {str(c) for c in mine["git_commit"] if isinstance(c, str) and c}
        stamps = [
            t
            for t in mine["started_at"].tolist() + mine["finished_at"].tolist()
            if isinstance(t, str) and t
        ]
        if candidates is not None and not candidates.empty:
            sel = candidates[
                (candidates["config_hash"] == run.config_hash)
                & (candidates["data_fingerprint"] == dataset.fingerprint)
            ]
            run.compute_sec += float(pd.to_numeric(sel["total_sec"]).sum())
            stamps += [
                t for t in sel["started_at"].tolist() if isinstance(t, str) and t
            ]
        if stamps:  # ISO 8601 in UTC: string order is time order
            run.span = (min(stamps), max(stamps))
        run.selected = chosen_points(ok)


def chosen_points(ok: pd.DataFrame) -> dict[str, Counter]:
    """Per grid key, how many folds chose each value (readable selection)."""
    out: dict[str, Counter] = {}
    for text in ok.drop_duplicates("fold")["selected"]:
        if not isinstance(text, str) or not text:
            continue
        try:
            point = json.loads(text)
        except (ValueError, RecursionError):
            continue  # a damaged field: that fold's choice is not shown
        if not isinstance(point, dict):
            continue
        for key, value in point.items():
            out.setdefault(key, Counter())[json.dumps(value)] += 1
    return out


def tidy_scores(runs: list[CellRun]) -> pd.DataFrame:
    """The statistics module's input: method, dataset, fold, score."""
    records = [
        {
            "pooler": r.cell.method,
            "dataset": r.dataset_name,
            "fold": k,
            "score": v,
            "higher_is_better": True,
        }
        for r in runs
        for k, v in zip(r.keys, r.values)
    ]
    return pd.DataFrame(
        records, columns=["pooler", "dataset", "fold", "score", "higher_is_better"]
    )
