"""The statistics table of a protocol: ranks with ties inside the noise.

Built from the per-fold means of each table row (label) with
:mod:`poolbench.report.statistics`: per dataset, which poolers a paired test
over the folds cannot tell from the best; across datasets, the average rank
with the Friedman test and the Nemenyi critical difference (Demšar 2006).
Kept apart from :mod:`poolbench.report.tables` so that module stays about
layout; it calls :func:`rank_table` once per protocol.
"""

from __future__ import annotations

import math

import pandas as pd

from poolbench.report.statistics import (
    compare_over_datasets,
    compare_per_dataset,
    rank_lines,
)
from poolbench.report.summary import GROUP, spread_values
from poolbench.results.row import METRICS

ALPHA = 0.05


def fold_scores(
    latest: pd.DataFrame, part: pd.DataFrame, metric: str = "acc"
) -> pd.DataFrame:
    """The tidy input of the statistics: one score per table row, dataset, fold.

    Where the table's std is over runs (one split: a holdout, a node split;
    the ``spread`` :func:`poolbench.report.summary.summarize` decided) the
    repeated measure is the run instead: runs of every pooler share the split
    and, run by run, the seed.
    """
    info = METRICS[metric]
    rows = latest[latest["metric"] == metric]
    means = spread_values(rows, part)
    means = means.merge(part[GROUP + ["label"]], on=GROUP, how="inner")
    return pd.DataFrame(
        {
            "pooler": means["label"],
            "dataset": means["dataset"],
            "fold": means["fold"],
            # as recorded: the statistics scale the means, as the table does
            "score": means["score"],
            "higher_is_better": info.higher_is_better,
        }
    )


def rank_table(
    latest: pd.DataFrame,
    part: pd.DataFrame,
    protocol: str,
    task: str = "graph",
    metric: str = "acc",
):
    """The ``ranks-<protocol>`` table (``ranks-<protocol>-<task tag>`` for other
    tasks and metrics, see :func:`~poolbench.report.tables.task_tag`), or None
    without two poolers to compare."""
    # tables calls us: import late
    from poolbench.report.tables import (
        Table,
        complete,
        printed_decimals,
        table_suffix,
        table_title,
    )

    # A cell short of its protocol (failed or missing runs) is not ranked: its
    # mean is over the folds that happened to finish.
    whole = pd.Series(
        [complete(r) for r in part.itertuples()], index=part.index, dtype=bool
    )
    left_out = sorted(f"{r.label} on {r.dataset}" for r in part[~whole].itertuples())
    scores = fold_scores(latest, part[whole], metric)
    if scores.empty or scores["pooler"].nunique() < 2:
        return None
    # ranked on the means the score table prints: its scale, its digits
    decimals = printed_decimals(METRICS[metric])
    scale = 100.0 if METRICS[metric].percent else 1.0
    ties = compare_per_dataset(scores, ALPHA, decimals, scale)
    over = compare_over_datasets(scores, ALPHA, decimals, scale)
    rows = sorted(
        scores["pooler"].unique(), key=lambda r: over.avg_ranks.get(r, math.inf)
    )
    cols = sorted(scores["dataset"].unique())
    cells, best = {}, set()
    for t in ties:
        p = "" if math.isnan(t.p_vs_best) else f", p={t.p_vs_best:.3f}"
        verdict = (
            " (tied)"
            if t.tied_with_best
            else f" (untested: {t.shared} shared)"
            if not t.tested
            else ""
        )
        cells[(t.pooler, t.dataset)] = f"{t.rank:g}{verdict}{p}"
        if t.tied_with_best:
            best.add((t.pooler, t.dataset))
    top = min(over.avg_ranks.values()) if over.avg_ranks else math.nan
    for row, rank in over.avg_ranks.items():
        cells[(row, "avg. rank")] = f"{rank:.2f}"
        if not math.isnan(over.cd) and rank - top < over.cd or rank == top:
            best.add((row, "avg. rank"))
    note = (
        "Rank of the mean per dataset (1 = best); (tied): not significantly worse "
        "than the best by a paired t-test over the shared folds (runs, for a "
        f"single split) (Holm, alpha {ALPHA}), p = that test's adjusted p; "
        "(untested): fewer than two shared folds, no test possible. Avg. rank "
        "over the datasets every row has; bold: within the Nemenyi critical "
        "difference of the top. "
        + "".join(f"{line}. " for line in rank_lines(over)).rstrip()
    )
    if left_out:
        note += (
            " Not ranked, short of their protocol (failed or missing runs): "
            + ", ".join(left_out)
            + "."
        )
    return Table(
        f"ranks-{table_suffix(protocol, task, metric)}",
        table_title(
            f"Ranks and ties ({METRICS[metric].label})", protocol, task, metric
        ),
        "pooler",
        rows,
        cols + ["avg. rank"],
        cells,
        best,
        note,
    )
