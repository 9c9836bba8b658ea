"""Per-experiment aggregates of result rows: the numbers every table starts from.

Accuracy is reported as mean ± std over folds of the per-fold mean of the final
runs (Errica et al. 2020); std is the population std over folds (ddof=0), as
in PyDGN. Only rows with status ok enter the means; failures are counted, and
the expected number of runs comes from the protocol recorded in the rows.
"""

from __future__ import annotations

import pandas as pd

# data_fingerprint too: rows made on different data are never one cell
GROUP = [
    "experiment",
    "dataset",
    "pooler",
    "model",
    "protocol",
    "config_hash",
    "data_fingerprint",
]


def fold_means(frame: pd.DataFrame) -> pd.DataFrame:
    """Per experiment and fold: the mean test accuracy of its ok final runs."""
    ok = frame[frame["status"] == "ok"]
    if ok.empty:
        return pd.DataFrame(columns=GROUP + ["fold", "test_acc"])
    means = ok.groupby(GROUP + ["fold"], sort=True, dropna=False)["test_acc"].mean()
    return means.reset_index()


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per experiment: acc mean/std over folds, cost, run counts."""
    if frame.empty:
        return pd.DataFrame(columns=GROUP + ["acc_mean", "acc_std", "folds", "runs"])
    out = []
    for key, rows in frame.groupby(GROUP, sort=True, dropna=False):
        ok = rows[rows["status"] == "ok"]
        per_fold = ok.groupby("fold")["test_acc"].mean()
        out.append(
            {
                **dict(zip(GROUP, key)),
                "acc_mean": per_fold.mean() if len(per_fold) else float("nan"),
                "acc_std": per_fold.std(ddof=0) if len(per_fold) else float("nan"),
                "folds": int(per_fold.size),
                "runs": int(len(ok)),
                "failed": int(len(rows) - len(ok)),
                # the protocol's shape as the rows recorded it; 0: rows written
                # before poolbench recorded it
                "protocol_folds": int(rows["protocol_folds"].max()),
                "protocol_runs": int(rows["protocol_runs"].max()),
                "unrecorded_rows": int((rows["protocol_folds"] <= 0).sum()),
                "sec_per_epoch": ok["sec_per_epoch"].mean(),
                "sec_per_epoch_std": ok["sec_per_epoch"].std(ddof=0),
                "total_sec": rows["total_sec"].sum(),
                "peak_mem_mb": ok["peak_mem_mb"].max(),
                "mem_kind": ok["mem_kind"].iloc[0] if len(ok) else "",
                "params": int(ok["params"].max()) if len(ok) else 0,
            }
        )
    return pd.DataFrame(out)
