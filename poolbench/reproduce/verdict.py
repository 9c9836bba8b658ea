"""Ours against the paper, per cell: inside the paper's ± std, and Welch's test.

Both stds are population stds (ddof=0: the papers' ``np.std`` and poolbench's
tables); Welch's t-test wants sample stds, so each is scaled by sqrt(n/(n-1)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05
# Papers print one decimal: a published std of 0.0 means below 0.05, so the
# band and Welch's test use at least that (else no run could ever match).
MIN_STD = 0.05


@dataclass
class Verdict:
    ours_mean: float
    ours_std: float  # population std of the values (ddof=0)
    n: int
    expected: int
    paper_mean: float
    paper_std: float
    paper_n: int
    inside: bool  # |ours - paper| <= paper std
    welch_t: float
    welch_p: float
    label: str

    @property
    def delta(self) -> float:
        return self.ours_mean - self.paper_mean


def _sample_std(std: float, n: int) -> float:
    return std * math.sqrt(n / (n - 1)) if n > 1 else math.nan


def judge(
    values: list[float],
    paper_mean: float,
    paper_std: float,
    paper_n: int,
    expected: int,
    alpha: float = ALPHA,
    runs: tuple[int, int] | None = None,
    stand_in: bool = False,
) -> Verdict:
    """The verdict for one cell; ``values`` are ours, per fold or per run (%).

    ``reproduced``: our mean lies within the paper's ± std and Welch's test
    finds no difference at ``alpha``; ``differs``: Welch's p < alpha;
    ``outside ±std``: outside the band but not significantly different.
    Fewer values than the protocol expects, or fewer ok runs than it expects
    (``runs``: done, expected), prefix ``partial``. A cell run on a stand-in
    set (not the paper's data) gets no verdict: ``reference only``.
    """
    arr = np.asarray(values, dtype=float)
    n = int(arr.size)
    mean = float(arr.mean()) if n else math.nan
    std = float(arr.std(ddof=0)) if n > 1 else math.nan  # one value: no spread
    band = max(paper_std, MIN_STD)
    inside = bool(n) and abs(mean - paper_mean) <= band + 1e-9
    t = p = math.nan
    if n >= 2 and paper_n >= 2 and not stand_in:
        s1, s2 = _sample_std(std, n), _sample_std(band, paper_n)
        if s1 > 0 or s2 > 0:
            res = stats.ttest_ind_from_stats(
                mean, s1, n, paper_mean, s2, paper_n, equal_var=False
            )
            t, p = float(res.statistic), float(res.pvalue)
    if n == 0:
        label = "no runs"
    elif stand_in:
        label = "reference only (stand-in set)"
    elif n < 2:
        label = "too few runs" + (" (inside ±std)" if inside else "")
    elif not math.isnan(p) and p < alpha:
        label = "differs"
    elif inside:
        label = "reproduced"
    else:
        label = "outside ±std"
    if 0 < n < expected:
        label = f"partial ({n}/{expected}): {label}"
    elif n and runs is not None and runs[0] < runs[1]:
        label = f"partial ({runs[0]}/{runs[1]} runs): {label}"
    return Verdict(
        mean, std, n, expected, paper_mean, paper_std, paper_n, inside, t, p, label
    )
