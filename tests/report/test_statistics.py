"""The rank statistics against hand-computed values and scipy on small tables."""

from __future__ import annotations

import math
import warnings

import pandas as pd
import pytest
from scipy import stats

from poolbench.report.statistics import (
    compare_over_datasets,
    compare_per_dataset,
    draw_cd_diagram,
    holm,
    nemenyi_cd,
    score_matrix,
)


def tidy(scores: dict, higher=True) -> pd.DataFrame:
    """``scores[(method, dataset)] = [score per fold]``."""
    return pd.DataFrame(
        [
            {
                "pooler": m,
                "dataset": d,
                "fold": f,
                "score": s,
                "higher_is_better": higher,
            }
            for (m, d), values in scores.items()
            for f, s in enumerate(values)
        ]
    )


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 -> 3*0.01, max(.03, 2*0.03), max(.06, 1*0.04)
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    out = holm([math.nan, 0.02])
    assert math.isnan(out[0]) and out[1] == pytest.approx(0.02)


def test_nemenyi_cd_matches_demsar_2006():
    # Demšar's example: 4 classifiers on 14 data sets, CD = 1.25 (q_0.05 = 2.569)
    assert nemenyi_cd(4, 14) == pytest.approx(1.25, abs=0.005)
    # two methods: q_0.05 = 1.960
    assert nemenyi_cd(2, 6) == pytest.approx(1.960 * math.sqrt(2 * 3 / 36), abs=1e-3)


# D1..D4, one fold each. Ranks a: 1, 1, 2, 1.5; b: 2, 3, 1, 1.5; c: 3, 2, 3, 3
SCORES = {
    ("a", "D1"): [0.9],
    ("b", "D1"): [0.8],
    ("c", "D1"): [0.7],
    ("a", "D2"): [0.9],
    ("b", "D2"): [0.5],
    ("c", "D2"): [0.6],
    ("a", "D3"): [0.6],
    ("b", "D3"): [0.7],
    ("c", "D3"): [0.5],
    ("a", "D4"): [0.8],
    ("b", "D4"): [0.8],
    ("c", "D4"): [0.1],
}


def test_average_ranks_friedman_and_wilcoxon_against_scipy():
    result = compare_over_datasets(tidy(SCORES))
    assert result.avg_ranks == pytest.approx({"a": 5.5 / 4, "b": 7.5 / 4, "c": 11 / 4})
    matrix = score_matrix(tidy(SCORES))
    stat, p = stats.friedmanchisquare(matrix["a"], matrix["b"], matrix["c"])
    assert result.friedman_stat == pytest.approx(stat)
    assert result.friedman_p == pytest.approx(p)
    assert result.cd == pytest.approx(nemenyi_cd(3, 4))
    raw = {
        (a, b): stats.wilcoxon(matrix[a] - matrix[b]).pvalue
        for a, b in [("a", "b"), ("a", "c"), ("b", "c")]
    }
    adjusted = holm(list(raw.values()))
    for (a, b, p_raw, p_holm), pair, want, want_holm in zip(
        result.pairs, raw, raw.values(), adjusted
    ):
        assert (a, b) == pair
        assert p_raw == pytest.approx(want) and p_holm == pytest.approx(want_holm)


def test_lower_is_better_flips_the_ranks():
    result = compare_over_datasets(tidy(SCORES, higher=False))
    assert result.avg_ranks["c"] == pytest.approx(1 + 1 / 4)  # 1, 2, 1, 1


def test_cliques_group_methods_within_the_critical_difference():
    # with CD = 2.21 (k=3, n=4) every average rank lies within CD of the next
    result = compare_over_datasets(tidy(SCORES))
    assert result.cliques == [["a", "b", "c"]]


def test_two_methods_get_ranks_but_no_friedman():
    two = {k: v for k, v in SCORES.items() if k[0] != "c"}
    result = compare_over_datasets(tidy(two))
    assert math.isnan(result.friedman_p) and "≥3 methods" in result.note
    assert result.avg_ranks == pytest.approx({"a": 5.5 / 4, "b": 6.5 / 4})


def test_per_dataset_paired_test_ties_noise_and_separates_a_clear_loss():
    folds = {
        ("best", "D"): [0.80, 0.82, 0.78, 0.81, 0.79],
        ("noisy", "D"): [0.70, 0.90, 0.75, 0.85, 0.78],  # mean 0.796
        ("worse", "D"): [0.70, 0.71, 0.69, 0.70, 0.72],  # 0.1 below, every fold
    }
    out = {c.pooler: c for c in compare_per_dataset(tidy(folds))}
    assert out["best"].rank == 1 and out["best"].tied_with_best
    p_noisy = stats.ttest_rel(folds[("best", "D")], folds[("noisy", "D")]).pvalue
    p_worse = stats.ttest_rel(folds[("best", "D")], folds[("worse", "D")]).pvalue
    want = holm([p_noisy, p_worse])
    assert out["noisy"].p_vs_best == pytest.approx(want[0])
    assert out["worse"].p_vs_best == pytest.approx(want[1])
    assert out["noisy"].tied_with_best and not out["worse"].tied_with_best
    assert out["worse"].mean == pytest.approx(0.704) and out["worse"].folds == 5


def test_the_same_gap_on_every_fold_is_significant_without_a_warning():
    folds = {
        ("best", "D"): [0.8, 0.9, 0.7, 0.8],
        ("below", "D"): [0.7, 0.8, 0.6, 0.7],  # 0.1 below, up to float rounding
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy's precision-loss warning fails
        out = {c.pooler: c for c in compare_per_dataset(tidy(folds))}
    assert out["below"].p_vs_best == 0.0 and not out["below"].tied_with_best


def test_a_gap_of_float_rounding_is_a_tie_on_whichever_fold_it_falls():
    for noisy in range(4):
        same = [0.3, 0.8, 0.6, 0.7]
        rounded = list(same)
        rounded[noisy] = {0: 0.1 + 0.2, 1: 0.7 + 0.1, 2: 0.1 * 6, 3: 0.1 * 7}[noisy]
        folds = {("a", "D"): same, ("b", "D"): rounded}
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = {c.pooler: c for c in compare_per_dataset(tidy(folds))}
        assert all(c.tied_with_best for c in out.values()), noisy


def test_cd_diagram_is_drawn(tmp_path):
    path = draw_cd_diagram(compare_over_datasets(tidy(SCORES)), tmp_path / "cd.png")
    assert path.is_file() and path.stat().st_size > 1000


def test_one_shared_fold_is_untested_not_tied():
    # a single value per method: no test can tell them apart, so "tied" would
    # claim evidence the table does not have
    folds = {("best", "D"): [0.9], ("other", "D"): [0.5]}
    out = {c.pooler: c for c in compare_per_dataset(tidy(folds))}
    assert out["best"].tied_with_best and out["best"].tested
    assert not out["other"].tied_with_best and not out["other"].tested
    assert out["other"].shared == 1 and math.isnan(out["other"].p_vs_best)
