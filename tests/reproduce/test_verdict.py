"""The verdict of one cell: the ±std band, Welch's test, and the labels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from poolbench.reproduce.verdict import judge


def test_reproduced_inside_the_band_and_welch_by_hand():
    values = [70.0, 72.0, 74.0, 76.0, 78.0]  # mean 74, population std sqrt(8)
    v = judge(values, 75.0, 3.7, 10, expected=5)
    assert v.ours_mean == pytest.approx(74.0)
    assert v.ours_std == pytest.approx(math.sqrt(8))
    assert v.inside and v.delta == pytest.approx(-1.0)
    # Welch wants sample stds: sqrt(10) for ours (ddof=1), 3.7*sqrt(10/9) for theirs
    want = stats.ttest_ind_from_stats(
        74.0, math.sqrt(10), 5, 75.0, 3.7 * math.sqrt(10 / 9), 10, equal_var=False
    )
    assert v.welch_p == pytest.approx(want.pvalue)
    assert v.welch_t == pytest.approx(want.statistic)
    assert v.label == "reproduced"


def test_a_clearly_different_mean_differs():
    v = judge([60.0, 61.0, 59.0, 60.5, 59.5], 75.0, 3.7, 10, expected=5)
    assert not v.inside and v.welch_p < 0.001 and v.label == "differs"


def test_outside_the_band_but_not_significant():
    # mean 70 is 5 below 75 ± 3.7, yet the spread is too large to call it
    v = judge([50.0, 90.0, 60.0, 80.0], 75.0, 3.7, 10, expected=4)
    assert not v.inside and v.welch_p > 0.05 and v.label == "outside ±std"


def test_missing_and_too_few_runs_are_said():
    assert judge([], 75.0, 3.7, 10, expected=10).label == "no runs"
    one = judge([75.5], 75.0, 3.7, 10, expected=10)
    assert one.label == "partial (1/10): too few runs (inside ±std)"
    assert math.isnan(one.welch_p)
    part = judge(list(np.linspace(73, 77, 5)), 75.0, 3.7, 10, expected=10)
    assert part.label == "partial (5/10): reproduced"


def test_a_paper_std_of_zero_still_tests_against_our_spread():
    v = judge([98.0, 99.0, 100.0], 99.0, 0.0, 10, expected=3)
    assert v.inside and v.welch_p == pytest.approx(1.0) and v.label == "reproduced"


def test_a_published_std_of_zero_is_read_as_below_its_last_digit():
    # 99.0 ± 0.0 printed with one decimal: 99.04 over 10 runs reproduces it
    ours = list(np.linspace(98.54, 99.54, 10))  # mean 99.04
    v = judge(ours, 99.0, 0.0, 10, expected=10)
    assert v.inside and v.label == "reproduced"
    assert not judge([x - 0.1 for x in ours], 99.0, 0.0, 10, expected=10).inside


def test_missing_runs_inside_complete_folds_are_partial():
    v = judge(list(np.linspace(73, 77, 10)), 75.0, 3.7, 10, expected=10, runs=(20, 30))
    assert v.label == "partial (20/30 runs): reproduced"


def test_a_stand_in_set_gets_no_verdict():
    v = judge([90.0, 91.0, 92.0], 75.0, 1.0, 10, expected=3, stand_in=True)
    assert v.label == "reference only (stand-in set)" and math.isnan(v.welch_p)


def test_one_value_has_no_spread_and_says_so():
    """A cell with one value printed `± 0.00` in reproduce's table, where
    train and table print `± n/a`."""
    from poolbench.reproduce.report import cells_text

    v = judge([70.0], 75.0, 3.7, 10, expected=5)
    assert v.n == 1 and math.isnan(v.ours_std)

    class Cell:
        method, dataset_name, dataset_config = "mincut", "MUTAG", "mutag"

    class Run:
        cell, dataset_name, dataset_config = Cell, "MUTAG", "mutag"

    class Out:
        runs, verdicts = [Run], [v]

    (row,) = cells_text(Out)
    assert row[3] == "70.00 ± n/a"
