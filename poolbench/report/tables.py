"""Benchmark tables from result rows: accuracy, cost and run counts per cell.

Every number comes from :func:`poolbench.report.summary.summarize` on the
latest attempt of each run (``ResultsStore.latest``). One set of tables is
built per protocol name. What a complete cell is (folds × runs) comes from the
protocol each row recorded, never from the indices that happen to be present;
a short cell shows its count and failures next to its accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache

import pandas as pd
from omegaconf import OmegaConf

from poolbench.config_files import CONF_DIR
from poolbench.report.summary import GROUP, mean_std_text, summarize
from poolbench.results.configs import differences
from poolbench.results.row import (
    METRIC_FAMILIES,
    METRICS,
    MetricInfo,
    distinct_devices,
)

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
class CellShape:
    """Folds × final runs of one cell: from the protocol its rows recorded, or
    (rows from before poolbench recorded it) inferred from the largest fold and
    run indices of the protocol's rows, which cannot see runs missing at the end.
    """

    folds: int
    runs: int
    inferred: bool = False

    @property
    def expected(self) -> int:
        return self.folds * self.runs


def describe_shapes(protocol: str, shapes: list[CellShape]) -> str:
    """The protocol sentence under a table: one shape, or "per cell"."""
    distinct = {(s.folds, s.runs) for s in shapes}
    if len(distinct) == 1:
        folds, runs = distinct.pop()
        text = (
            f"protocol {protocol}: {folds} fold(s) × {runs} final run(s) "
            f"= {folds * runs} runs per cell"
        )
    else:
        text = f"protocol {protocol}: expected runs differ per cell (counts table)"
    if any(s.inferred for s in shapes):
        text += (
            "; some cells hold rows from an older poolbench that did not record "
            "the protocol: their expected runs are inferred from the largest fold "
            "and run present (runs missing at the end go unseen)"
        )
    return text


def table_protocols(summary: pd.DataFrame) -> pd.Series:
    """The protocol each cell is tabled under: its name, or ``<name>-<k>folds``
    where its fold count is not the one that name ships with (``protocol=cv10
    protocol.folds=3`` is cv10-3folds) or, for a protocol poolbench does not
    ship, where the name's cells differ in folds. Cells of different fold
    counts never share a table, a bold or a rank; rows from before the
    protocol was recorded (folds 0) keep the name."""
    pairs = list(zip(summary["protocol"].astype(str), summary["protocol_folds"]))
    counts: dict[str, set] = {}
    for name, folds in pairs:
        if int(folds) > 0:
            counts.setdefault(name, set()).add(int(folds))

    def label(name: str, folds: int) -> str:
        usual = shipped_folds(name)
        if usual is None:  # one recorded fold count: the name says enough
            usual = folds if len(counts.get(name, ())) <= 1 else None
        return name if folds <= 0 or folds == usual else f"{name}-{folds}folds"

    labels = {(n, int(f)): label(n, int(f)) for n, f in set(pairs)}
    return pd.Series(
        [labels[(n, int(f))] for n, f in pairs], index=summary.index, dtype=object
    )


@cache
def shipped_folds(name: str) -> int | None:
    """Folds of the protocol ``name`` as ``conf/protocol`` ships it, if it does."""
    path = CONF_DIR / "protocol" / f"{name}.yaml"
    if not path.is_file():
        return None
    return int(OmegaConf.load(path).get("folds", 0)) or None


def row_labels(
    summary: pd.DataFrame, identities: dict[str, dict] | None = None
) -> pd.Series:
    """The row name of each experiment: its pooler, made unique per dataset.

    Two configs of one pooler on one dataset (another model, another
    experiment, other data) get the model, the experiment name, the settings
    that differ (from the saved ``identities`` of their config hashes; the
    hash itself where none is saved) or the data fingerprint appended,
    whichever tells them apart, so no two configs are ever averaged into one
    cell.
    """
    labels = summary["pooler"].astype(str)
    for extra, prefix in LABEL_EXTRAS:
        clash = summary.assign(_l=labels).duplicated(["dataset", "_l"], keep=False)
        if not clash.any():
            break
        clashing = summary[clash].assign(_l=labels[clash])
        if not clashing.groupby(["dataset", "_l"])[extra].nunique().gt(1).any():
            continue  # this column does not tell the clashing rows apart
        poolers = set(summary.loc[clash, "pooler"])
        hit = summary["pooler"].isin(poolers)
        text = prefix + summary[extra].astype(str)
        if extra == "config_hash" and identities:
            text = (
                _config_differences(summary[hit], identities)
                .reindex(summary.index, fill_value="")
                .where(hit, text)
            )
        labels = labels.where(~hit, labels + " · " + text)
    return labels


def _config_differences(rows: pd.DataFrame, identities: dict) -> pd.Series:
    """Per row: the settings its config differs in from the other configs of
    its pooler and task (``trainer.lr=0.01``), or its hash where they cannot
    be read or do not tell a dataset's configs apart.

    Dataset keys are left out (the table's columns tell datasets apart), so
    one variant run on several datasets gets one label and one table row.
    """
    text = rows["config_hash"].astype(str)
    for _, group in rows.groupby(["task", "pooler"]):
        hashes = sorted(set(group["config_hash"].astype(str)))
        if len(hashes) < 2 or not all(h in identities for h in hashes):
            continue
        settings = [
            {k: v for k, v in identities[h].items() if not k.startswith("dataset.")}
            for h in hashes
        ]
        by_hash = dict(zip(hashes, differences(settings)))
        on_each = group.assign(h=group["config_hash"].astype(str))
        told_apart = all(
            len({by_hash[h] for h in same}) == len(same)
            for same in on_each.groupby("dataset")["h"].agg(set)
        )
        if told_apart:
            text.loc[group.index] = group["config_hash"].astype(str).map(by_hash)
    return text


# What tells two rows of one pooler apart, in the order tried; the data
# fingerprint last (rows made on edited data files).
LABEL_EXTRAS = (
    ("model", ""),
    ("experiment", ""),
    ("config_hash", ""),
    ("data_fingerprint", "data "),
)


def _fmt(info: MetricInfo, mean: float, std: float) -> str:
    scale, digits = _printed(info)
    return mean_std_text(mean, std, digits, scale)


def _printed(info: MetricInfo) -> tuple[float, int]:
    """Scale and decimals a metric is printed with in the score tables."""
    return (100.0 if info.percent else 1.0), printed_decimals(info)


def printed_decimals(info: MetricInfo) -> int:
    return 2 if info.percent else 3


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


def average_ranks(
    values: dict, rows: list[str], cols: list[str], higher_is_better: bool = True
) -> dict[str, tuple]:
    """Per row: (mean rank over the datasets it has, how many it has); 1 = best."""
    frame = pd.DataFrame(
        {c: {r: values.get((r, c), math.nan) for r in rows} for c in cols}
    )
    ranks = frame.rank(axis=0, ascending=not higher_is_better, method="average")
    return {r: (ranks.loc[r].mean(), int(ranks.loc[r].notna().sum())) for r in rows}


def build_tables(
    latest: pd.DataFrame, identities: dict[str, dict] | None = None
) -> tuple[list[Table], pd.DataFrame]:
    """All tables for the rows in ``latest``, and the tidy summary they come
    from; ``identities`` (config hash -> saved settings) name config variants."""
    summary = summarize(latest)
    summary["label"] = row_labels(summary, identities).to_numpy()
    extra = latest.groupby(GROUP, sort=True, dropna=False).agg(
        statuses=("status", _failure_counts),
        devices=("device", _distinct),
        commits=("git_commit", _distinct),
    )
    summary = summary.merge(extra.reset_index(), on=GROUP, how="left")
    shapes = cell_shapes(latest, summary)
    summary["expected_folds"] = [s.folds for s in shapes]
    summary["expected_runs"] = [s.runs for s in shapes]
    summary["expected"] = [s.expected for s in shapes]
    summary["expected_inferred"] = [s.inferred for s in shapes]
    if "table_protocol" in latest:  # named over a whole store before a filter
        named = latest.groupby(GROUP, sort=True, dropna=False)["table_protocol"]
        summary = summary.merge(named.first().reset_index(), on=GROUP, how="left")
    else:
        summary["table_protocol"] = table_protocols(summary).to_numpy()
    tables: list[Table] = []
    # one set per protocol (and fold count), and per task and metric within
    # it: accuracy and RMSE never share a table, nor graph and node accuracy
    for (protocol, task, metric), part in summary.groupby(
        ["table_protocol", "task", "metric"], sort=True
    ):
        protocol, task, metric = str(protocol), str(task), str(metric)
        tables += _tables_for_protocol(part, protocol, task, metric)
        tables += _statistics_table(latest, part, protocol, task, metric)
    return tables, summary


def _statistics_table(
    latest: pd.DataFrame, part: pd.DataFrame, protocol: str, task: str, metric: str
):
    """Ranks with ties inside the noise (poolbench.report.ranks), when any."""
    from poolbench.report.ranks import rank_table  # it imports Table from here

    table = rank_table(latest, part, protocol, task, metric)
    return [table] if table is not None else []


def cell_shapes(latest: pd.DataFrame, summary: pd.DataFrame) -> list[CellShape]:
    """Each summary row's folds × runs: recorded, else inferred per protocol."""
    shapes = []
    for r in summary.itertuples():
        if r.protocol_folds > 0 and r.protocol_runs > 0:
            shapes.append(CellShape(int(r.protocol_folds), int(r.protocol_runs)))
            continue
        rows_of = latest[latest["protocol"] == r.protocol]
        folds = int(rows_of["fold"].max()) + 1
        shapes.append(CellShape(folds, int(rows_of["run"].max()) + 1, True))
    return shapes


def mixed_provenance(by_cell: dict) -> dict:
    """Cells whose runs were made by more than one commit or on more than one
    device (a sweep resumed after an update, or on another machine), with the
    sentence that says which."""
    out = {}
    for key, r in by_cell.items():
        devices = ", ".join(sorted(distinct_devices(str(r.devices).split(", "))))
        parts = [
            f"{what} {text}"
            for what, text in (("commits", r.commits), ("devices", devices))
            if ", " in str(text)
        ]
        if parts:
            out[key] = f"{key[0]} on {key[1]}: {' and '.join(parts)}"
    return out


def mark_mixed(cells: dict, mixed: dict) -> str:
    """Mark the cells of mixed provenance with § and return the note's
    sentence naming them ("" when there are none)."""
    marked = [key for key in mixed if key in cells]
    for key in marked:
        cells[key] += " §"
    if not marked:
        return ""
    return (
        " §: the cell's runs come from more than one poolbench commit or "
        "device, whose numbers may differ: "
        + "; ".join(mixed[key] for key in marked)
        + "."
    )


def complete(r) -> bool:
    """Every run its protocol expects is there and ok."""
    return r.runs == r.expected and not r.failed


def score_cell(r, info: MetricInfo) -> str:
    """Mean ± std, with the ok/expected count and the failures in plain sight
    whenever the cell is short of its protocol."""
    mean, std = getattr(r, f"{info.name}_mean"), getattr(r, f"{info.name}_std")
    text = _fmt(info, mean, std) if r.folds else MISSING
    if r.runs != r.expected or r.failed:
        text += shortfall(r)
    return text


def shortfall(r) -> str:
    """`` (ok/expected, failures)`` of a cell short of its protocol."""
    failures = f", {r.statuses}" if r.failed else ""
    return f" ({r.runs}/{r.expected}{failures})"


def task_tag(task: str, metric: str) -> str:
    """What sets a task's tables apart in names and titles: "" for graph
    classification (the names tables always had), ``regression`` for graph
    regression (also a graph task, told apart by its metric), else the task."""
    if task == "graph":
        return "" if metric == "acc" else "regression"
    return task


def table_suffix(protocol: str, task: str, metric: str) -> str:
    """``cv10``, ``cv10-regression``, ``holdout-node``: the end of a file name."""
    tag = task_tag(task, metric)
    return f"{protocol}-{tag}" if tag else protocol


def table_title(what: str, protocol: str, task: str, metric: str) -> str:
    tag = task_tag(task, metric)
    return f"{what}, {protocol}" + (f", {tag} task" if tag else "")


def _stem(metric: str, protocol: str, task: str) -> str:
    """File stem of a score table: accuracy-cv10 for graph classification (the
    name it always had), else <metric>-<suffix> (rmse-cv10-regression)."""
    if metric == "acc" and task == "graph":
        return f"accuracy-{protocol}"
    return f"{metric}-{table_suffix(protocol, task, metric)}"


def _tables_for_protocol(
    part: pd.DataFrame, protocol: str, task: str = "graph", metric: str = "acc"
) -> list[Table]:
    family = [METRICS[m] for m in METRIC_FAMILIES[metric]]
    suffix = table_suffix(protocol, task, metric)
    rows = sorted(part["label"].unique())
    cols = sorted(part["dataset"].unique())
    by_cell = {(r.label, r.dataset): r for r in part.itertuples()}
    shapes = [
        CellShape(r.expected_folds, r.expected_runs, r.expected_inferred)
        for r in part.itertuples()
    ]
    described = describe_shapes(protocol, shapes)
    one_shape = len({s.expected for s in shapes}) == 1

    mixed = mixed_provenance(by_cell)
    score_tables, short = [], False
    for r in by_cell.values():
        short |= r.runs != r.expected or bool(r.failed)
    for info in family:
        cells, values = {}, {}
        scale, digits = _printed(info)
        for key, r in by_cell.items():
            cells[key] = score_cell(r, info)
            # Only a complete cell competes, and on the digits it shows: a
            # cell with one fold left is no winner, and 71.23 ties 71.23.
            if r.folds and complete(r):
                values[key] = round(scale * getattr(r, f"{info.name}_mean"), digits)
        ranks = average_ranks(values, rows, cols, info.higher_is_better)
        partial_rank = False
        for row in rows:
            mean_rank, n = ranks[row]
            if n:
                dagger = "" if n == len(cols) else "‡"
                partial_rank |= bool(dagger)
                cells[(row, "avg. rank")] = f"{mean_rank:.2f}{dagger}"
        sense = "highest" if info.higher_is_better else "lowest"
        over = (
            "the runs (seeds) of the one split"
            if set(part["spread"]) == {"runs"}
            else "the folds of the per-fold mean of the final runs"
            if set(part["spread"]) == {"folds"}
            else "the folds (per-fold means), or the runs where a cell has one fold"
        )
        kind = task_tag(task, metric) or task
        note = (
            f"{info.label} ({kind} task): mean ± std (population, ddof=0) over "
            f"{over}; {described}. Bold: best ({sense}) mean per dataset. Avg. "
            "rank: mean over datasets of the rank of the mean (1 = best, ties "
            "share)."
        )
        if short:
            note += (
                " (ok/expected, failures): the cell has fewer ok runs than its "
                "protocol, or failed runs; its mean is over the ok runs only, "
                "and it is neither bold nor ranked."
            )
        if partial_rank:
            note += " ‡: ranked on fewer datasets than the table has."
        if info.caveat:
            note += f" {info.caveat}"
        note += mark_mixed(cells, mixed)
        title = table_title(info.label.removesuffix(" (%)"), protocol, task, metric)
        score_tables.append(
            Table(
                _stem(info.name, protocol, task),
                title,
                "pooler",
                rows,
                cols + ["avg. rank"],
                cells,
                _best(cells, values, rows, cols, not info.higher_is_better),
                note,
            )
        )

    time_cells, time_values = {}, {}
    mem_cells, mem_values = {}, {}
    for key, r in by_cell.items():
        if r.runs == 0:
            continue
        # a short cell's cost is over the runs that survived (an oom run's
        # memory is not among them): shown with its count, never the best
        short_of = "" if complete(r) else shortfall(r)
        time_cells[key] = (
            mean_std_text(r.sec_per_epoch, r.sec_per_epoch_std, 4) + short_of
        )
        mem_cells[key] = f"{r.peak_mem_mb:.0f}{short_of}"
        if complete(r):
            time_values[key] = round(r.sec_per_epoch, 4)
            mem_values[key] = round(r.peak_mem_mb)
    short_cost = (
        " (ok/expected, failures): over the ok runs of a cell short of its "
        "protocol; never bold."
        if short
        else ""
    )
    kinds = sorted(set(part["mem_kind"]) - {""})
    older = int(part["unrecorded_rows"].sum())
    time_mixed = mark_mixed(time_cells, mixed)  # time and memory differ most
    mem_mixed = mark_mixed(mem_cells, mixed)
    time_table = Table(
        f"sec-per-epoch-{suffix}",
        table_title("Seconds per training epoch", protocol, task, metric),
        "pooler",
        rows,
        cols,
        time_cells,
        _best(time_cells, time_values, rows, cols, lower_is_better=True),
        "Seconds per training epoch (the training pass only, without the "
        "validation pass; first epoch left out as warm-up): mean ± std over the "
        f"ok final runs (device: {_distinct(part['devices'])}). Bold: fastest per "
        f"dataset. {described}.{short_cost}"
        + (
            f" {older} row(s) come from an older poolbench whose seconds per "
            "epoch include the validation pass."
            if older
            else ""
        )
        + time_mixed,
    )
    mem_table = Table(
        f"peak-memory-{suffix}",
        table_title("Peak memory (MiB)", protocol, task, metric),
        "pooler",
        rows,
        cols,
        mem_cells,
        _best(mem_cells, mem_values, rows, cols, lower_is_better=True),
        "Peak memory (MiB = 2^20 bytes), the largest over the ok final runs; "
        f"kind: {', '.join(kinds) or 'n/a'} (cuda = max allocated tensor memory; "
        "cpu_rss = peak resident set of the process, which includes the Python "
        f"and torch baseline). Bold: lowest per dataset. {described}."
        + short_cost
        + mem_mixed,
    )

    count_cells = {}
    for row in rows:
        for col in cols:
            r = by_cell.get((row, col))
            if r is None:
                expected = f"0/{shapes[0].expected}" if one_shape else "no runs"
                count_cells[(row, col)] = f"missing {expected}"
                continue
            text = f"{r.runs}/{r.expected}"
            if r.failed:
                text += f" ({r.statuses})"
            elif r.runs < r.expected:
                text += " (incomplete)"
            count_cells[(row, col)] = text
    counts = Table(
        f"runs-{suffix}",
        table_title("Runs per cell", protocol, task, metric),
        "pooler",
        rows,
        cols,
        count_cells,
        set(),
        "ok runs / expected runs per cell (latest attempt of each run); failed "
        "runs are listed with their status (failed, nan, oom); missing: no run "
        f"recorded. {described}.",
    )
    return [*score_tables, time_table, mem_table, counts]


def _failure_counts(status: pd.Series) -> str:
    counts = status[status != "ok"].value_counts().sort_index()
    return ", ".join(f"{n} {name}" for name, n in counts.items())


def _distinct(values: pd.Series) -> str:
    seen = sorted({v for text in values for v in str(text).split(", ") if v})
    return ", ".join(seen) or "n/a"
