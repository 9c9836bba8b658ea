"""Per-experiment aggregates of result rows: the numbers every table starts from.

Each experiment is scored on its task's headline metric (the rows' ``metric``:
accuracy, RMSE, NMI) and the metrics reported with it, as mean ± std over
folds of the per-fold mean of the final runs (Errica et al. 2020); std is the
population std over folds (ddof=0), as in PyDGN. A protocol with one split
(a holdout, a public node split, community seeds) has no spread over folds,
so there the std is over its runs (seeds), and ``spread`` says which; a std
over fewer than two values is NaN (shown as n/a). Only
rows with status ok enter the means; failures are counted, and the expected
number of runs comes from the protocol recorded in the rows.
"""

from __future__ import annotations

import math

import pandas as pd

from poolbench.results.row import METRIC_FAMILIES

# data_fingerprint too: rows made on different data are never one cell
GROUP = [
    "experiment",
    "task",
    "metric",
    "dataset",
    "pooler",
    "model",
    "protocol",
    "config_hash",
    "data_fingerprint",
]


def mean_std_text(mean: float, std: float, digits: int, scale: float = 1.0) -> str:
    """``mean ± std`` as printed everywhere: no mean (no ok run) is a dash, no
    spread (one value) is n/a, never ``nan`` or a reassuring ``± 0``."""
    if math.isnan(mean):
        return "—"
    spread = "n/a" if math.isnan(std) else f"{scale * std:.{digits}f}"
    shown = scale * mean
    if round(shown, digits) == 0:  # -0.000 (an ARI a hair below 0) reads 0.000
        shown = 0.0
    return f"{shown:.{digits}f} ± {spread}"


def fold_means(frame: pd.DataFrame) -> pd.DataFrame:
    """Per experiment and fold: the mean headline score (``score``) of its ok
    final runs, in the column of its ``metric``."""
    ok = frame[frame["status"] == "ok"]
    parts = []
    for metric, rows in ok.groupby("metric", sort=True):
        means = rows.groupby(GROUP + ["fold"], sort=True, dropna=False)[
            f"test_{metric}"
        ].mean()
        parts.append(means.rename("score").reset_index())
    if not parts:
        return pd.DataFrame(columns=GROUP + ["fold", "score"])
    return pd.concat(parts, ignore_index=True)


def spread_values(frame: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """The values each cell's std is over (``fold``, ``score``): per-fold means
    where its protocol has folds, the runs themselves (as ``fold``) where it
    has one split, as :func:`summarize` decided in ``spread``."""
    runs_cells = summary.loc[summary["spread"] == "runs", GROUP]
    per_fold = fold_means(frame)
    if runs_cells.empty:
        return per_fold
    ok = frame[frame["status"] == "ok"]
    singles = ok.merge(runs_cells, on=GROUP)
    parts = [
        per_fold.merge(runs_cells, on=GROUP, how="left", indicator=True)
        .query("_merge == 'left_only'")
        .drop(columns="_merge")
    ]
    for metric, rows in singles.groupby("metric", sort=True):
        values = rows.groupby(GROUP + ["run"], sort=True, dropna=False)[
            f"test_{metric}"
        ].mean()
        parts.append(
            values.rename("score").reset_index().rename(columns={"run": "fold"})
        )
    return pd.concat(parts, ignore_index=True)


def _spread(rows: pd.DataFrame, ok: pd.DataFrame) -> str:
    """What the std of a cell is over: the protocol its rows recorded decides
    (one split: its runs; k folds: the folds), never the folds that happen to
    have survived, so a cv cell with one fold left is not shown with a std
    over seeds as if that were its spread. Rows from before the protocol was
    recorded (folds 0) fall back to what is present."""
    folds = int(rows["protocol_folds"].max())
    if folds > 0:
        return "runs" if folds == 1 else "folds"
    return "runs" if ok["fold"].nunique() == 1 and len(ok) > 1 else "folds"


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per experiment: ``mean``/``std`` of the headline metric (and
    ``<metric>_mean``/``_std`` of each metric reported with it), cost, counts."""
    if frame.empty:
        return pd.DataFrame(columns=GROUP + ["mean", "std", "folds", "runs"])
    out = []
    for key, rows in frame.groupby(GROUP, sort=True, dropna=False):
        ok = rows[rows["status"] == "ok"]
        record = dict(zip(GROUP, key))
        spread = _spread(rows, ok)
        for i, metric in enumerate(METRIC_FAMILIES[record["metric"]]):
            per_fold = ok.groupby("fold")[f"test_{metric}"].mean()
            values = ok[f"test_{metric}"] if spread == "runs" else per_fold
            mean = values.mean() if len(values) else float("nan")
            # one value has no spread: NaN (printed n/a), not a reassuring 0
            std = values.std(ddof=0) if len(values) > 1 else float("nan")
            record[f"{metric}_mean"], record[f"{metric}_std"] = mean, std
            if i == 0:
                record.update(
                    mean=mean, std=std, folds=int(per_fold.size), spread=spread
                )
        record.update(
            runs=int(len(ok)),
            failed=int(len(rows) - len(ok)),
            # the protocol's shape as the rows recorded it; 0: rows written
            # before poolbench recorded it
            protocol_folds=int(rows["protocol_folds"].max()),
            protocol_runs=int(rows["protocol_runs"].max()),
            unrecorded_rows=int((rows["protocol_folds"] <= 0).sum()),
            sec_per_epoch=ok["sec_per_epoch"].mean(),
            sec_per_epoch_std=(
                ok["sec_per_epoch"].std(ddof=0) if len(ok) > 1 else float("nan")
            ),
            total_sec=rows["total_sec"].sum(),
            peak_mem_mb=ok["peak_mem_mb"].max(),
            mem_kind=ok["mem_kind"].iloc[0] if len(ok) else "",
            params=int(ok["params"].max()) if len(ok) else 0,
        )
        out.append(record)
    return pd.DataFrame(out)
