"""Benchmark tables from result rows: accuracy, cost and run counts per cell.

Every number comes from :func:`poolbench.report.summary.summarize` on the
latest attempt of each run (``ResultsStore.latest``). One set of tables is
built per protocol, since folds and runs differ between protocols.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from poolbench.report.summary import GROUP, summarize

MISSING = "—"


@dataclass
class Table:
    """A display table: ``cells[(row, col)]`` hold text, ``best`` the bold ones."""

    name: str  # file stem, e.g. accuracy-cv10
    title: str
    corner: str  # header of the label column
    rows: list[str]
    cols: list[str]
    cells: dict[tuple[str, str], str]
    best: set[tuple[str, str]] = field(default_factory=set)
    note: str = ""

    def text(self, row: str, col: str) -> str:
        return self.cells.get((row, col), MISSING)


@dataclass
class ProtocolShape:
    """Folds × runs of a protocol, inferred from the largest indices in its rows."""

    name: str
    folds: int
    runs: int

    @property
    def expected(self) -> int:
        return self.folds * self.runs

    def describe(self) -> str:
        return (
            f"protocol {self.name}: {self.folds} fold(s) × {self.runs} final run(s) "
            f"= {self.expected} runs per cell"
        )


def row_labels(summary: pd.DataFrame) -> pd.Series:
    """The row name of each experiment: its pooler, made unique per dataset.

    Two configs of one pooler on one dataset (another model, another
    experiment) get the model, then the experiment name, appended, so no two
    configs are ever averaged into one cell.
    """
    labels = summary["pooler"].astype(str)
    for extra in ("model", "experiment", "config_hash"):
        clash = summary.assign(_l=labels).duplicated(["dataset", "_l"], keep=False)
        if not clash.any():
            break
        poolers = set(summary.loc[clash, "pooler"])
        hit = summary["pooler"].isin(poolers)
        labels = labels.where(~hit, labels + " · " + summary[extra].astype(str))
    return labels


def _fmt_acc(mean: float, std: float) -> str:
    return f"{100 * mean:.2f} ± {100 * std:.2f}"


def _best(cells: dict, values: dict, rows, cols, lower_is_better: bool) -> set:
    best = set()
    for col in cols:
        scored = [(values[(r, col)], r) for r in rows if (r, col) in values]
        scored = [(v, r) for v, r in scored if not math.isnan(v)]
        if not scored:
            continue
        target = (
            min(v for v, _ in scored) if lower_is_better else max(v for v, _ in scored)
        )
        best |= {(r, col) for v, r in scored if math.isclose(v, target)}
    return best


def average_ranks(values: dict, rows: list[str], cols: list[str]) -> dict[str, tuple]:
    """Per row: (mean rank over the datasets it has, how many it has); 1 = best."""
    frame = pd.DataFrame(
        {c: {r: values.get((r, c), math.nan) for r in rows} for c in cols}
    )
    ranks = frame.rank(axis=0, ascending=False, method="average")
    return {r: (ranks.loc[r].mean(), int(ranks.loc[r].notna().sum())) for r in rows}


def build_tables(latest: pd.DataFrame) -> tuple[list[Table], pd.DataFrame]:
    """All tables for the rows in ``latest``, and the tidy summary they come from."""
    summary = summarize(latest)
    summary["label"] = row_labels(summary).to_numpy()
    extra = latest.groupby(GROUP, sort=True, dropna=False).agg(
        statuses=("status", _failure_counts), devices=("device", _distinct)
    )
    summary = summary.merge(extra.reset_index(), on=GROUP, how="left")
    tables: list[Table] = []
    for protocol, part in summary.groupby("protocol", sort=True):
        rows_of = latest[latest["protocol"] == protocol]
        shape = ProtocolShape(
            protocol, int(rows_of["fold"].max()) + 1, int(rows_of["run"].max()) + 1
        )
        tables += _tables_for_protocol(part, shape)
    return tables, summary


def _tables_for_protocol(part: pd.DataFrame, shape: ProtocolShape) -> list[Table]:
    rows = sorted(part["label"].unique())
    cols = sorted(part["dataset"].unique())
    by_cell = {(r.label, r.dataset): r for r in part.itertuples()}
    suffix = shape.name

    acc_cells, acc_values, incomplete = {}, {}, False
    for key, r in by_cell.items():
        if r.folds == 0:
            continue
        acc_values[key] = r.acc_mean
        mark = "" if r.runs == shape.expected else "†"
        incomplete |= bool(mark)
        acc_cells[key] = _fmt_acc(r.acc_mean, r.acc_std) + mark
    ranks = average_ranks(acc_values, rows, cols)
    partial_rank = False
    for row in rows:
        mean_rank, n = ranks[row]
        if n:
            dagger = "" if n == len(cols) else "‡"
            partial_rank |= bool(dagger)
            acc_cells[(row, "avg. rank")] = f"{mean_rank:.2f}{dagger}"
    note = (
        "Test accuracy (%): mean ± std (population, ddof=0) over the folds of the "
        f"per-fold mean of the final runs; {shape.describe()} (inferred from the "
        "store). Bold: best mean per dataset. Avg. rank: mean over datasets of the "
        "rank of the mean accuracy (1 = best, ties share)."
    )
    if incomplete:
        note += " †: fewer ok runs than expected (see the counts table)."
    if partial_rank:
        note += " ‡: ranked on fewer datasets than the table has."
    accuracy = Table(
        f"accuracy-{suffix}",
        f"Test accuracy, {shape.name}",
        "pooler",
        rows,
        cols + ["avg. rank"],
        acc_cells,
        _best(acc_cells, acc_values, rows, cols, lower_is_better=False),
        note,
    )

    time_cells, time_values = {}, {}
    mem_cells, mem_values = {}, {}
    for key, r in by_cell.items():
        if r.runs == 0:
            continue
        time_values[key] = r.sec_per_epoch
        time_cells[key] = f"{r.sec_per_epoch:.4f} ± {r.sec_per_epoch_std:.4f}"
        mem_values[key] = r.peak_mem_mb
        mem_cells[key] = f"{r.peak_mem_mb:.0f}"
    kinds = sorted(set(part["mem_kind"]) - {""})
    time_table = Table(
        f"sec-per-epoch-{suffix}",
        f"Seconds per training epoch, {shape.name}",
        "pooler",
        rows,
        cols,
        time_cells,
        _best(time_cells, time_values, rows, cols, lower_is_better=True),
        "Seconds per training epoch: mean ± std over the ok final runs "
        f"(device: {_distinct(part['devices'])}). Bold: fastest per dataset. "
        f"{shape.describe()}.",
    )
    mem_table = Table(
        f"peak-memory-{suffix}",
        f"Peak memory (MB), {shape.name}",
        "pooler",
        rows,
        cols,
        mem_cells,
        _best(mem_cells, mem_values, rows, cols, lower_is_better=True),
        "Peak memory (MB), the largest over the ok final runs; "
        f"kind: {', '.join(kinds) or 'n/a'} (cuda = max allocated tensor memory; "
        "cpu_rss = peak resident set of the process, which includes the Python "
        f"and torch baseline). Bold: lowest per dataset. {shape.describe()}.",
    )

    count_cells = {}
    for row in rows:
        for col in cols:
            r = by_cell.get((row, col))
            if r is None:
                count_cells[(row, col)] = f"missing 0/{shape.expected}"
                continue
            text = f"{r.runs}/{shape.expected}"
            if r.failed:
                text += f" ({r.statuses})"
            elif r.runs < shape.expected:
                text += " (incomplete)"
            count_cells[(row, col)] = text
    counts = Table(
        f"runs-{suffix}",
        f"Runs per cell, {shape.name}",
        "pooler",
        rows,
        cols,
        count_cells,
        set(),
        "ok runs / expected runs per cell (latest attempt of each run); failed "
        "runs are listed with their status (failed, nan, oom); missing: no run "
        f"recorded. {shape.describe()}.",
    )
    return [accuracy, time_table, mem_table, counts]


def _failure_counts(status: pd.Series) -> str:
    counts = status[status != "ok"].value_counts().sort_index()
    return ", ".join(f"{n} {name}" for name, n in counts.items())


def _distinct(values: pd.Series) -> str:
    seen = sorted({v for text in values for v in str(text).split(", ") if v})
    return ", ".join(seen) or "n/a"
