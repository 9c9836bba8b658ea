"""Statistics that match the claims of a benchmark table (Demšar 2006).

Input: a tidy frame with one score per method, dataset and fold (columns
``pooler``, ``dataset``, ``fold``, ``score``, ``higher_is_better``); ``pooler``
is any method label. Two questions, two tests:

- **per dataset**, is a method worse than the best one, or inside the noise?
  A paired t-test over the folds both have (the folds are shared), Holm-
  corrected over the comparisons with the best; methods not significantly
  worse are tied with it.
- **across datasets**, do the methods differ at all, and which pairs do? The
  Friedman test on the ranks per dataset, then the Nemenyi critical difference
  (methods whose average ranks differ by less than CD are not told apart) and,
  as the stronger alternative, pairwise Wilcoxon signed-rank tests with Holm's
  correction (Benavoli et al. 2016). Ranks: 1 = best, ties share.

Everything comes from ``scipy.stats``; nothing here reads the results store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

COLUMNS = ("pooler", "dataset", "fold", "score", "higher_is_better")


def holm(pvalues: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order (NaN stays NaN)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    m, running = len(order), 0.0
    for i, idx in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[idx]))
        out[idx] = running
    return out.tolist()


def _oriented(frame: pd.DataFrame) -> pd.DataFrame:
    """Scores turned so that higher is better everywhere (for ranking)."""
    missing = set(COLUMNS) - set(frame.columns)
    if missing:
        raise ValueError(f"statistics needs columns {sorted(missing)}")
    sign = np.where(frame["higher_is_better"].astype(bool), 1.0, -1.0)
    return frame.assign(score=frame["score"].astype(float) * sign)


# Means are compared rounded: float noise must not break ties. A table passes
# the decimals it prints, so its ranks and its bold agree with what it shows.
DECIMALS = 9


def rounded(values, decimals: int):
    """``values`` rounded as Python's ``round`` (and ``f"{v:.2f}"``) round
    them: numpy's ``.round`` can differ at a half-way value (70.035)."""
    return values.map(lambda v: v if pd.isna(v) else round(float(v), decimals))


def score_matrix(
    frame: pd.DataFrame, decimals: int = DECIMALS, scale: float = 1.0
) -> pd.DataFrame:
    """Datasets × methods: the mean over folds, oriented (higher is better),
    times ``scale`` (100 for a score printed in %: the mean of the fractions
    scaled, as the score table prints it; the mean of scaled folds can round
    the other way at a half-way value, 14.375 against 14.374999...)."""
    oriented = _oriented(frame)
    # rounded: means that differ only in float noise rank as ties
    means = oriented.pivot_table(
        index="dataset", columns="pooler", values="score", aggfunc="mean"
    )
    return rounded(scale * means, decimals)


@dataclass
class DatasetComparison:
    """One method on one dataset, against that dataset's best method."""

    dataset: str
    pooler: str
    mean: float  # in the frame's own direction
    rank: float  # 1 = best mean, ties share
    folds: int
    p_vs_best: float  # Holm-adjusted paired t-test p; NaN for the best itself
    tied_with_best: bool
    shared: int = 0  # folds this method shares with the best
    tested: bool = True  # False: under two shared folds, no test possible


def compare_per_dataset(
    frame: pd.DataFrame,
    alpha: float = 0.05,
    decimals: int = DECIMALS,
    scale: float = 1.0,
):
    """Per dataset: which methods are inside the noise of the best one.

    The best is the highest oriented mean; each other method is compared with
    it by a paired t-test over the folds both have (two-sided), the p-values
    of one dataset Holm-corrected together. Identical fold scores give p = NaN
    and count as tied (no gap); fewer than two shared folds give p = NaN and
    ``tested=False``: no test is possible, so the method is not called tied.
    """
    out: list[DatasetComparison] = []
    oriented = _oriented(frame)
    for dataset, part in oriented.groupby("dataset", sort=True):
        table = part.pivot_table(
            index="fold", columns="pooler", values="score", aggfunc="mean"
        )
        means = rounded(scale * table.mean(), decimals)
        ranks = means.rank(ascending=False, method="average")
        best = means.idxmax()
        raw, shared = {}, {}
        for name in table.columns:
            if name == best:
                continue
            both = table[[best, name]].dropna()
            diff = both[best] - both[name]
            shared[name] = len(both)
            if len(both) < 2 or np.allclose(diff, 0):  # no gap, up to rounding
                raw[name] = math.nan
            elif np.allclose(diff, diff.iloc[0]):
                # the same gap on every fold: t is infinite, so p = 0 (scipy
                # would warn of precision loss and may return NaN or noise)
                raw[name] = 0.0
            else:
                raw[name] = float(stats.ttest_rel(both[best], both[name]).pvalue)
        adjusted = dict(zip(raw, holm(list(raw.values()))))
        sign = 1.0 if bool(part["higher_is_better"].iloc[0]) else -1.0
        for name in table.columns:
            p = adjusted.get(name, math.nan)
            n = shared.get(name, int(table[name].notna().sum()))
            # a mean equal to the best's (as printed) is a best too, whichever
            # of the equals idxmax named: tied, tested or not
            level = name == best or means[name] == means[best]
            tested = level or n >= 2
            out.append(
                DatasetComparison(
                    dataset=str(dataset),
                    pooler=str(name),
                    mean=float(sign * means[name]),
                    rank=float(ranks[name]),
                    folds=int(table[name].notna().sum()),
                    p_vs_best=p,
                    tied_with_best=level or tested and (math.isnan(p) or p >= alpha),
                    shared=n,
                    tested=tested,
                )
            )
    return out


def nemenyi_cd(k: int, n: int, alpha: float = 0.05) -> float:
    """Critical difference of average ranks, ``q_a sqrt(k(k+1) / 6n)``
    (Demšar 2006); ``q_a`` is the studentized range quantile over sqrt(2)."""
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6.0 * n)))


@dataclass
class RankComparison:
    """Methods compared over datasets: Friedman, Nemenyi CD, Wilcoxon-Holm."""

    methods: list[str]
    datasets: list[str]  # the datasets every method has (the blocks)
    avg_ranks: dict[str, float]
    alpha: float
    friedman_stat: float = math.nan
    friedman_p: float = math.nan
    cd: float = math.nan
    # groups of methods whose average ranks lie within CD of each other
    cliques: list[list[str]] = field(default_factory=list)
    # (a, b, wilcoxon p, Holm-adjusted p) per pair of methods
    pairs: list[tuple[str, str, float, float]] = field(default_factory=list)
    note: str = ""


def compare_over_datasets(
    frame: pd.DataFrame,
    alpha: float = 0.05,
    decimals: int = DECIMALS,
    scale: float = 1.0,
) -> RankComparison:
    """Average ranks over the datasets all methods have; the tests when defined.

    Friedman needs at least 3 methods and 2 datasets; the Wilcoxon test needs
    at least 2 datasets per pair (and says little below about 6).
    """
    matrix = score_matrix(frame, decimals, scale).dropna(axis=0, how="any")
    methods = [str(c) for c in matrix.columns]
    ranks = matrix.rank(axis=1, ascending=False, method="average")
    avg = {str(m): float(ranks[m].mean()) for m in matrix.columns}
    result = RankComparison(methods, [str(d) for d in matrix.index], avg, alpha)
    k, n = len(methods), len(matrix)
    if n == 0:  # no ranks at all, not a rank of NaN for everyone
        result.avg_ranks = {}
        result.note = "no dataset has a score for every method: no average ranks"
        return result
    if k >= 3 and n >= 2:
        stat, p = stats.friedmanchisquare(*[matrix[m].to_numpy() for m in matrix])
        result.friedman_stat, result.friedman_p = float(stat), float(p)
        result.cd = nemenyi_cd(k, n, alpha)
        result.cliques = _cliques(avg, result.cd)
    else:
        result.note = (
            f"Friedman and Nemenyi need ≥3 methods and ≥2 datasets "
            f"(here {k} and {n}): average ranks only"
        )
    raw = []
    names = list(matrix.columns)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            diff = matrix[a] - matrix[b]
            if n < 2 or np.allclose(diff, 0):
                raw.append((str(a), str(b), math.nan))
            else:
                raw.append((str(a), str(b), float(stats.wilcoxon(diff).pvalue)))
    adjusted = holm([p for *_, p in raw])
    result.pairs = [(a, b, p, q) for (a, b, p), q in zip(raw, adjusted)]
    return result


def _cliques(avg: dict[str, float], cd: float) -> list[list[str]]:
    """Maximal runs of methods (sorted by rank) spanning less than CD."""
    order = sorted(avg, key=avg.get)
    groups: list[list[str]] = []
    for i in range(len(order)):
        j = i
        while j + 1 < len(order) and avg[order[j + 1]] - avg[order[i]] < cd:
            j += 1
        group = order[i : j + 1]
        if len(group) > 1 and not any(set(group) <= set(g) for g in groups):
            groups.append(group)
    return groups


def rank_lines(result: RankComparison) -> list[str]:
    """Plain-text lines: the ranks and the tests, for terminals and reports."""
    order = sorted(result.avg_ranks, key=result.avg_ranks.get)
    lines = (
        [
            "Average rank over "
            f"{len(result.datasets)} dataset(s) (1 = best): "
            + ", ".join(f"{m} {result.avg_ranks[m]:.2f}" for m in order)
        ]
        if result.datasets
        else []
    )
    if not math.isnan(result.friedman_p):
        lines.append(
            f"Friedman chi2 = {result.friedman_stat:.3f}, p = {result.friedman_p:.4f}; "
            f"Nemenyi CD (alpha {result.alpha}) = {result.cd:.2f}; not told apart: "
            + ("; ".join(" = ".join(c) for c in result.cliques) or "none")
        )
    if result.note:
        lines.append(result.note)
    return lines


def draw_cd_diagram(result: RankComparison, path: Path) -> Path | None:
    """The critical-difference diagram (Demšar 2006): average ranks on an axis,
    a bar of length CD, and a thick line joining methods not told apart."""
    if not result.avg_ranks:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(result.avg_ranks)
    order = sorted(result.avg_ranks, key=result.avg_ranks.get)
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.35 * k))
    ax.set_xlim(0.5, k + 0.5)
    ax.set_ylim(-(k + 1), 2)
    ax.axhline(0, color="black", lw=1)
    for r in range(1, k + 1):
        ax.plot([r, r], [0, 0.15], color="black", lw=1)
        ax.text(r, 0.35, str(r), ha="center", va="bottom", fontsize=8)
    for i, name in enumerate(order):
        rank = result.avg_ranks[name]
        y = -(i + 1)
        ax.plot([rank, rank, 0.6], [0, y, y], color="0.3", lw=0.8)
        ax.text(0.55, y, f"{name} ({rank:.2f})", ha="right", va="center", fontsize=8)
    for j, clique in enumerate(result.cliques):
        lo, hi = (result.avg_ranks[m] for m in (clique[0], clique[-1]))
        ax.plot([lo, hi], [-0.3 - 0.25 * j] * 2, color="black", lw=3)
    if not math.isnan(result.cd):
        ax.plot([1, 1 + result.cd], [1.3, 1.3], color="black", lw=2)
        ax.text(
            1 + result.cd / 2, 1.45, f"CD = {result.cd:.2f}", ha="center", fontsize=8
        )
    ax.axis("off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    from poolbench.report.figures import save_figure  # matplotlib set up there

    try:
        save_figure(fig, path)
    finally:
        plt.close(fig)
    return path
