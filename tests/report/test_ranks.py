"""The ranks table of `poolbench table`: ties inside the noise, CD-bold ranks."""

from __future__ import annotations

from poolbench.report.tables import build_tables
from tests.report.test_tables import frame, rows

NOISY = [[0.70], [0.90], [0.75], [0.85], [0.78]]
BEST = [[0.80], [0.82], [0.78], [0.81], [0.79]]
WORSE = [[0.70], [0.71], [0.69], [0.70], [0.72]]


def test_ranks_table_ties_noise_and_separates_a_clear_loss():
    data = frame(
        rows("best", "D1", BEST, shape=(5, 1)),
        rows("noisy", "D1", NOISY, shape=(5, 1)),
        rows("worse", "D1", WORSE, shape=(5, 1)),
        rows("best", "D2", BEST, shape=(5, 1)),
        rows("noisy", "D2", WORSE, shape=(5, 1)),
        rows("worse", "D2", NOISY, shape=(5, 1)),
    )
    tables, _ = build_tables(data)
    ranks = tables[-1]
    assert ranks.name == "ranks-cv"
    assert ranks.rows == ["best", "noisy", "worse"]  # by average rank
    assert ranks.text("best", "D1") == "1 (tied)"
    assert ranks.text("noisy", "D1").startswith("2 (tied), p=")
    assert ranks.text("worse", "D1").startswith("3, p=")
    assert ("worse", "D1") not in ranks.best and ("noisy", "D1") in ranks.best
    assert ranks.text("best", "avg. rank") == "1.00"
    assert (
        ranks.text("noisy", "avg. rank") == ranks.text("worse", "avg. rank") == "2.50"
    )
    # rank sums 2, 5, 5 over N=2 datasets, k=3: 12/(2*3*4) * 54 - 3*2*4 = 3
    assert "Friedman chi2 = 3.000" in ranks.note
    assert "Nemenyi CD" in ranks.note


def test_a_single_split_is_tested_over_its_runs():
    one_split = {
        name: [[a[0] for a in accs]]
        for name, accs in (("best", BEST), ("worse", WORSE))
    }  # fold 0, runs 0..4
    data = frame(
        *(rows(name, "D", accs, shape=(1, 5)) for name, accs in one_split.items())
    )
    data["protocol"] = "holdout"
    ranks = build_tables(data)[0][-1]
    assert ranks.name == "ranks-holdout"
    assert ranks.text("worse", "D").startswith("2, p=")  # 5 paired runs, not 1


def test_no_shared_dataset_gives_no_average_rank_rather_than_nan():
    data = frame(
        rows("best", "D1", BEST, shape=(5, 1)), rows("worse", "D2", WORSE, shape=(5, 1))
    )
    ranks = build_tables(data)[0][-1]
    assert ranks.text("best", "D1") == "1 (tied)"
    assert ("best", "avg. rank") not in ranks.cells
    assert "nan" not in ranks.note
    assert ranks.note.endswith(
        "no dataset has a score for every method: no average ranks."
    )


def test_a_cell_short_of_its_protocol_is_not_ranked_and_is_named():
    data = frame(
        rows("best", "D1", BEST, shape=(5, 1)),
        rows("worse", "D1", WORSE, shape=(5, 1)),
        # 2 of 5 folds failed: its mean over the 3 left would rank first
        rows(
            "lucky",
            "D1",
            [[0.99]] * 5,
            shape=(5, 1),
            status={(3, 0): "oom", (4, 0): "oom"},
        ),
    )
    ranks = build_tables(data)[0][-1]
    assert ranks.rows == ["best", "worse"]
    assert ranks.text("best", "D1") == "1 (tied)"
    assert (
        "Not ranked, short of their protocol (failed or missing runs): lucky on D1."
        in ranks.note
    )


def test_one_run_of_one_split_is_ranked_untested():
    data = frame(
        rows("best", "D", [[0.9]], shape=(1, 1)),
        rows("worse", "D", [[0.5]], shape=(1, 1)),
    )
    ranks = build_tables(data)[0][-1]
    assert ranks.text("best", "D") == "1 (tied)"
    assert ranks.text("worse", "D") == "2 (untested: 1 shared)"
