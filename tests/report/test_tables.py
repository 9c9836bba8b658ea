"""Table building and rendering on hand-made rows: labels, ranks, bold, LaTeX, eval."""

from __future__ import annotations

import math
import sys

import pandas as pd
import pytest

from poolbench.report.cli import table_command
from poolbench.report.figures import pareto_front
from poolbench.report.render import latex_escape, to_latex, to_markdown
from poolbench.report.tables import average_ranks, build_tables
from poolbench.results.row import ResultRow


def rows(pooler, dataset, accs, model="gin[2-1]h64", status=None, h=None, shape=(0, 0)):
    """One row per accuracy in ``accs[fold][run]``; ``shape``: the recorded
    protocol folds × runs ((0, 0): rows of a poolbench that did not record it)."""
    out = []
    for fold, fold_accs in enumerate(accs):
        for run, acc in enumerate(fold_accs):
            out.append(
                ResultRow(
                    experiment=f"{dataset}-{pooler}",
                    dataset=dataset,
                    pooler=pooler,
                    model=model,
                    protocol="cv",  # not a shipped name: any fold count is its own
                    protocol_folds=shape[0],
                    protocol_runs=shape[1],
                    fold=fold,
                    run=run,
                    seed=0,
                    config_hash=h or f"{pooler}{dataset}{model}",
                    test_acc=acc,
                    sec_per_epoch=0.1,
                    peak_mem_mb=100.0,
                    mem_kind="cpu_rss",
                    device="cpu",
                    status=(status or {}).get((fold, run), "ok"),
                ).as_dict()
            )
    return out


def frame(*parts):
    return pd.DataFrame([r for part in parts for r in part])


def test_best_per_column_bold_ranks_and_incomplete_marks():
    data = frame(
        rows("a", "D1", [[0.8, 0.9], [0.7, 0.7]]),
        rows("b", "D1", [[0.6, 0.6], [0.6, 0.6]]),
        rows("a", "D2", [[0.5, 0.5], [0.5, 0.5]]),
        rows("b", "D2", [[0.9, 0.9], [0.9, 0.1]], status={(1, 1): "nan"}),
    )
    tables, summary = build_tables(data)
    acc, _, _, counts, _ranks = tables
    assert acc.text("a", "D1") == "77.50 ± 7.50"  # folds 0.85 and 0.70
    assert acc.text("b", "D2") == "90.00 ± 0.00 (3/4, 1 nan)"  # 3 of 4 runs ok
    # b's D2 cell is short of its protocol: shown, but neither bold nor ranked
    assert acc.best == {("a", "D1"), ("a", "D2")}
    assert acc.text("a", "avg. rank") == "1.00"
    assert acc.text("b", "avg. rank") == "2.00‡"
    assert "neither bold nor ranked" in acc.note
    assert counts.text("b", "D2") == "3/4 (1 nan)"
    assert "**77.50 ± 7.50**" in to_markdown(acc)


def test_a_sweep_cut_off_at_fold_4_shows_15_of_30_not_complete():
    full = [[0.8, 0.8, 0.8]] * 5  # folds 0-4 of a 10-fold × 3-run protocol
    tables, summary = build_tables(frame(rows("a", "D", full, shape=(10, 3))))
    acc, _, _, counts = tables  # one pooler: no ranks table
    assert acc.text("a", "D") == "80.00 ± 0.00 (15/30)"
    assert counts.text("a", "D") == "15/30 (incomplete)"
    assert "10 fold(s) × 3 final run(s) = 30 runs per cell" in acc.note
    assert "fewer ok runs than its protocol" in acc.note
    assert summary.expected.tolist() == [30]


def test_failed_runs_are_counted_in_the_accuracy_cell():
    accs = [[0.9, 0.9, 0.9]] * 9 + [[0.5, 0.5, 0.5]]
    bad = {(0, 0): "nan", (3, 2): "oom", (5, 1): "nan"}
    data = frame(
        rows("a", "D", accs, status=bad, shape=(10, 3)),
        rows(
            "b",
            "D",
            [[0.7] * 3] * 10,
            status={(f, r): "failed" for f in range(10) for r in range(3)},
            shape=(10, 3),
        ),
    )
    acc, _, _, counts = build_tables(data)[0][:4]
    assert acc.text("a", "D").endswith(" (27/30, 2 nan, 1 oom)")
    assert acc.text("b", "D") == "— (0/30, 30 failed)"
    assert counts.text("b", "D") == "0/30 (30 failed)"


def test_rows_without_a_recorded_protocol_fall_back_and_say_so():
    acc, times = build_tables(frame(rows("a", "D", [[0.5, 0.5]] * 2)))[0][:2]
    assert acc.text("a", "D") == "50.00 ± 0.00"  # inferred: 2 folds × 2 runs
    assert "inferred from the largest fold and run present" in acc.note
    assert "4 row(s) come from an older poolbench" in times.note
    assert "training pass only" in times.note


def test_rows_on_different_data_are_never_one_cell():
    old = rows("a", "D", [[0.5]], shape=(1, 1))
    new = rows("a", "D", [[0.9]], shape=(1, 1))
    for row in old:
        row["data_fingerprint"] = "0ld"
    for row in new:
        row["data_fingerprint"] = "n3w"
    acc = build_tables(frame(old, new, rows("b", "D", [[0.6]], shape=(1, 1))))[0][0]
    assert acc.rows == ["a · data 0ld", "a · data n3w", "b"]
    # one run of one split: no spread to show
    assert acc.text("a · data 0ld", "D") == "50.00 ± n/a"
    assert acc.text("a · data n3w", "D") == "90.00 ± n/a"


def test_two_configs_of_one_pooler_get_distinct_rows():
    data = frame(
        rows("a", "D", [[0.5]], model="gin[2-1]h64"),
        rows("a", "D", [[0.7]], model="gin[2-1]h32"),
        rows("b", "D", [[0.6]]),
    )
    acc = build_tables(data)[0][0]
    assert acc.rows == ["a · gin[2-1]h32", "a · gin[2-1]h64", "b"]


def test_missing_cells_are_marked():
    data = frame(rows("a", "D1", [[0.5]]), rows("b", "D2", [[0.6]]))
    acc, _, _, counts = build_tables(data)[0][:4]
    assert acc.text("a", "D2") == "—" and counts.text("a", "D2") == "missing 0/1"
    assert acc.text("a", "avg. rank") == "1.00‡"


def test_average_ranks_share_ties():
    values = {("a", "D"): 0.9, ("b", "D"): 0.9, ("c", "D"): 0.1}
    ranks = average_ranks(values, ["a", "b", "c"], ["D"])
    assert ranks["a"] == (1.5, 1) and ranks["c"] == (3.0, 1)


def test_pareto_front_keeps_the_undominated_points():
    points = [(1.0, 0.6), (2.0, 0.8), (1.5, 0.5), (3.0, 0.8), (4.0, 0.9)]
    assert pareto_front(points) == [0, 1, 4]


def test_pareto_front_leaves_out_a_baseline_with_no_time_per_epoch():
    # k-means trains nothing: its NaN seconds used to sort first and, with the
    # best score, leave every trained pooler off the front.
    points = [(math.nan, 0.9), (1.0, 0.5), (2.0, 0.6), (3.0, math.nan)]
    assert pareto_front(points) == [1, 2]


def test_latex_is_escaped_and_booktabs():
    assert latex_escape("PTC_MR 5% a&b ± —") == r"PTC\_MR 5\% a\&b $\pm$ --"
    acc = build_tables(frame(rows("a_b", "D", [[0.5]])))[0][0]
    tex = to_latex(acc)
    assert r"\toprule" in tex and r"a\_b & \textbf{50.00 $\pm$ n/a}" in tex


def test_eval_kind_calls_the_evaluation_report(monkeypatch, tmp_path):
    calls = []
    module = type(sys)("poolbench.evaluation.report")
    module.render_eval_tables = lambda *args: calls.append(args)
    monkeypatch.setitem(sys.modules, "poolbench.evaluation.report", module)
    table_command(["--kind", "eval", f"--results-dir={tmp_path}"])
    assert calls and calls[0][0] == tmp_path and calls[0][1] == tmp_path / "tables"


def test_average_ranks_over_datasets_in_either_sense():
    # a wins D1, c wins D2; b is second on both: ranks a (1+3)/2, b 2, c (3+1)/2
    values = {("a", "D1"): 0.9, ("b", "D1"): 0.8, ("c", "D1"): 0.7,
              ("a", "D2"): 0.1, ("b", "D2"): 0.5, ("c", "D2"): 0.6}  # fmt: skip
    ranks = average_ranks(values, ["a", "b", "c"], ["D1", "D2"])
    assert ranks == {"a": (2.0, 2), "b": (2.0, 2), "c": (2.0, 2)}
    values[("b", "D2")] = 0.7  # b now first on D2, c second
    ranks = average_ranks(values, ["a", "b", "c"], ["D1", "D2"])
    assert ranks == {"a": (2.0, 2), "b": (1.5, 2), "c": (2.5, 2)}
    # lower is better (RMSE): the same values rank the other way round
    low = average_ranks(values, ["a", "b", "c"], ["D1", "D2"], higher_is_better=False)
    assert low == {"a": (2.0, 2), "b": (2.5, 2), "c": (1.5, 2)}
    # a pooler missing a dataset is ranked on the datasets it has
    del values[("c", "D1")]
    assert average_ranks(values, ["a", "b", "c"], ["D1", "D2"])["c"] == (2.0, 1)


def test_a_cv_cell_with_one_fold_left_has_no_spread_rather_than_the_seeds():
    # 3 folds x 2 runs recorded; folds 1 and 2 failed: the std must not
    # silently become the std over fold 0's two seeds (2.50)
    failed = {(f, r): "oom" for f in (1, 2) for r in (0, 1)}
    data = frame(
        rows(
            "a", "D", [[0.5, 0.55], [0.6, 0.6], [0.6, 0.6]], shape=(3, 2), status=failed
        )
    )
    acc = build_tables(data)[0][0]
    assert acc.text("a", "D") == "52.50 ± n/a (2/6, 4 oom)"


def test_bold_follows_the_printed_digits():
    # 71.2341 % and 71.2349 % both print 71.23: both best, and they share a rank
    data = frame(
        rows("a", "D", [[0.712341]], shape=(1, 1)),
        rows("b", "D", [[0.712349]], shape=(1, 1)),
        rows("c", "D", [[0.5]], shape=(1, 1)),
    )
    tables = build_tables(data)[0]
    acc, ranks = tables[0], tables[-1]
    assert acc.best == {("a", "D"), ("b", "D")}
    assert acc.text("a", "avg. rank") == acc.text("b", "avg. rank") == "1.50"
    # the ranks table agrees with what the score table shows
    assert ranks.text("a", "D").startswith("1.5") and ranks.text("b", "D").startswith(
        "1.5"
    )


def test_cells_of_different_fold_counts_never_share_a_table():
    three = rows("a", "D", [[0.5]] * 3, shape=(3, 1))
    five = rows("b", "D", [[0.9]] * 5, shape=(5, 1))
    names = {t.name for t in build_tables(frame(three, five))[0]}
    assert {"accuracy-cv-3folds", "accuracy-cv-5folds"} <= names
    assert "accuracy-cv" not in names


def test_a_shipped_protocol_run_with_other_folds_says_so():
    shipped = rows("a", "D", [[0.5]] * 10, shape=(10, 1))
    fewer = rows("b", "D", [[0.9]] * 3, shape=(3, 1))
    for row in shipped + fewer:
        row["protocol"] = "cv10"
    tables = build_tables(frame(shipped, fewer))[0]
    by_name = {t.name: t for t in tables}
    assert by_name["accuracy-cv10"].rows == ["a"]
    assert by_name["accuracy-cv10-3folds"].rows == ["b"]
    assert by_name["accuracy-cv10-3folds"].title == "Test accuracy, cv10-3folds"


def test_a_cell_made_by_two_commits_or_devices_is_marked():
    old = rows("a", "D", [[0.5]], shape=(2, 1))
    new = rows("a", "D", [[0.0], [0.7]], shape=(2, 1))[1:]  # fold 1 resumed later
    old[0]["git_commit"], new[0]["git_commit"] = "aaaa", "bbbb"
    same = rows("b", "D", [[0.6], [0.6]], shape=(2, 1))
    for row in same:
        row["git_commit"] = "aaaa"
    tables = build_tables(frame(old, new, same))[0]
    acc = tables[0]
    assert acc.text("a", "D").endswith(" §") and "§" not in acc.text("b", "D")
    assert "a on D: commits aaaa, bbbb" in acc.note
    seconds = next(t for t in tables if t.name.startswith("sec-per-epoch"))
    assert seconds.text("a", "D").endswith(" §") and "commits aaaa" in seconds.note


def test_resuming_on_another_commit_or_device_says_so(capsys, monkeypatch):
    import poolbench.runner as runner

    monkeypatch.setattr(runner, "git_commit", lambda: "bbbb")
    done = frame(rows("a", "D", [[0.5], [0.6]], shape=(2, 1)))
    done["data_fingerprint"], done["config_hash"] = "fp", "aD"
    done["git_commit"] = ["aaaa", "bbbb"]  # fold 1 made by this commit already
    runner.warn_mixed_provenance(done, "aD", "fp", "cpu")
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "poolbench: 1 run(s) of config aD already recorded were made by commit "
        "aaaa (now bbbb); the tables mark a cell that mixes them (§)"
    ]
    runner.warn_mixed_provenance(done, "aD", "fp", "cuda:0")
    assert (
        "2 run(s) of config aD already recorded were made on device cpu (now cuda:0)"
        in (capsys.readouterr().err)
    )


def test_config_variants_are_named_by_the_settings_they_differ_in():
    fast = rows("a", "D", [[0.5]], h="h1")
    slow = rows("a", "D", [[0.7]], h="h2")
    other = rows("a", "D", [[0.6]], h="h3")  # no saved identity for h3
    shared = {"pooler": {"_target_": "x.A"}, "seed": 0}
    identities = {
        "h1": {**shared, "trainer.lr": 0.01, "model.hidden": 64},
        "h2": {**shared, "trainer.lr": 0.001, "model.hidden": 64},
    }
    two = build_tables(frame(fast, slow), identities)[0][0]
    assert two.rows == ["a · trainer.lr=0.001", "a · trainer.lr=0.01"]
    # one config without a saved identity: every variant keeps its hash
    three = build_tables(frame(fast, slow, other), identities)[0][0]
    assert three.rows == ["a · h1", "a · h2", "a · h3"]


def test_a_half_way_mean_ranks_as_it_prints():
    # 70.035 % prints 70.03 (binary 0.70035 lies just below the half): the
    # ranks table must not call it a tie with 70.04 as numpy's round did
    data = frame(
        rows("a", "D", [[0.70035]], shape=(1, 1)),
        rows("b", "D", [[0.7004]], shape=(1, 1)),
    )
    tables = build_tables(data)[0]
    acc, ranks = tables[0], tables[-1]
    assert acc.text("a", "D").startswith("70.03") and acc.best == {("b", "D")}
    assert ranks.text("b", "D") == "1 (tied)" and ranks.text("a", "D").startswith("2")


def test_filters_never_rename_a_table(tmp_path, monkeypatch):
    # "cv" is not a shipped protocol: with 2 folds on D1 and 3 on D2 its
    # tables are cv-2folds and cv-3folds, whatever the filters leave
    from poolbench.results.store import ResultsStore

    store = ResultsStore(tmp_path)
    data = rows("a", "D1", [[0.5]] * 2, shape=(2, 1)) + rows(
        "a", "D2", [[0.6]] * 3, shape=(3, 1)
    )
    for row in data:
        store.record(ResultRow(**row))
    out = tmp_path / "out"
    for filters in (
        ["dataset=D1", "protocol=cv-2folds"],
        ["protocol=cv-2folds", "dataset=D1"],
        ["dataset=D1"],
    ):
        table_command(
            [*filters, f"--results-dir={tmp_path}", f"--out={out}", "--no-figures"]
        )
        assert {p.name for p in out.glob("accuracy-*.csv")} == {
            "accuracy-cv-2folds.csv"
        }
        for p in out.iterdir():
            p.unlink()


def test_one_variant_on_two_datasets_is_one_row():
    def ident(name, lr, hidden):
        return {"dataset.name": name, "trainer.lr": lr, "model.hidden": hidden}

    identities = {
        "m1": ident("D1", 0.01, 8), "m2": ident("D1", 0.001, 8),
        "p1": ident("D2", 0.01, 8), "p2": ident("D2", 0.01, 16),
    }  # fmt: skip
    data = frame(
        rows("a", "D1", [[0.5]], h="m1"), rows("a", "D1", [[0.6]], h="m2"),
        rows("a", "D2", [[0.7]], h="p1"), rows("a", "D2", [[0.8]], h="p2"),
    )  # fmt: skip
    acc = build_tables(data, identities)[0][0]
    same = "a · model.hidden=8, trainer.lr=0.01"
    assert acc.rows == [
        "a · model.hidden=16, trainer.lr=0.01",
        "a · model.hidden=8, trainer.lr=0.001",
        same,
    ]
    assert acc.text(same, "D1").startswith("50.00") and acc.text(same, "D2").startswith(
        "70.00"
    )
    # only D1 has two variants: D2's single run still joins its row
    lone = {k: v for k, v in identities.items() if k != "p2"}
    runs = (("D1", 0.5, "m1"), ("D1", 0.6, "m2"), ("D2", 0.7, "p1"))
    acc = build_tables(frame(*(rows("a", d, [[x]], h=h) for d, x, h in runs)), lone)
    acc = acc[0][0]
    assert acc.rows == ["a · trainer.lr=0.001", "a · trainer.lr=0.01"]
    assert acc.text("a · trainer.lr=0.01", "D2").startswith("70.00")


def test_the_ranks_table_rounds_a_half_way_mean_as_the_score_table_prints_it():
    """a's folds average 0.14375: the score table prints 100 x mean =
    14.374999... as 14.37, level with b's 14.3698; the mean of the folds in %
    is 14.375 and rounded to 14.38, which made a the sole winner in the ranks
    table while the score table bolded both."""
    sizes = [17, 17, 18, 18, 19, 19, 17, 18, 16, 16]
    a = [0] * 8 + [7, 16]
    b = [3, 2, 2, 1, 4, 4, 2, 0, 3, 4]
    data = frame(
        rows("a", "D", [[k / n] for k, n in zip(a, sizes)], shape=(10, 1)),
        rows("b", "D", [[k / n] for k, n in zip(b, sizes)], shape=(10, 1)),
    )
    tables = build_tables(data)[0]
    acc, ranks = tables[0], tables[-1]
    assert acc.text("a", "D").startswith("14.37 ") and acc.text("b", "D").startswith(
        "14.37 "
    )
    assert acc.best == {("a", "D"), ("b", "D")}
    assert ranks.text("a", "D").startswith("1.5") and ranks.text("b", "D").startswith(
        "1.5"
    )
    assert ranks.text("a", "avg. rank") == ranks.text("b", "avg. rank") == "1.50"


def test_two_poolers_level_on_one_run_of_one_split_are_both_tied():
    """Equal means are both the best, whichever the code met first: one was
    '(tied)' and bold, the other '(untested: 1 shared)'."""
    data = frame(
        rows("first", "D", [[0.6842]], shape=(1, 1)),
        rows("second", "D", [[0.6842]], shape=(1, 1)),
        rows("worse", "D", [[0.5]], shape=(1, 1)),
    )
    ranks = build_tables(data)[0][-1]
    assert ranks.text("first", "D") == ranks.text("second", "D") == "1.5 (tied)"
    assert {("first", "D"), ("second", "D")} <= ranks.best
    assert ranks.text("worse", "D") == "3 (untested: 1 shared)"


def test_a_cell_short_of_its_protocol_is_never_the_fastest_or_leanest():
    """b's oom run is not in its memory or time: b shows its count and the
    complete cell a is the best, though b's surviving run was cheaper."""
    a = rows("a", "D", [[0.7, 0.7]], shape=(1, 2))
    b = rows("b", "D", [[0.7, 0.0]], shape=(1, 2), status={(0, 1): "oom"})
    for row in b:
        row["peak_mem_mb"], row["sec_per_epoch"] = 50.0, 0.05
    tables = {t.name.split("-cv")[0]: t for t in build_tables(frame(a, b))[0]}
    memory, seconds = tables["peak-memory"], tables["sec-per-epoch"]
    assert memory.text("b", "D") == "50 (1/2, 1 oom)"
    assert memory.best == {("a", "D")} and seconds.best == {("a", "D")}
    assert seconds.text("b", "D").endswith(" (1/2, 1 oom)")
    assert "never bold" in memory.note and "MiB" in memory.title


def test_a_figure_draws_a_short_cell_hollow_and_off_the_pareto_front(
    tmp_path, monkeypatch
):
    """As in the tables, a cell short of its protocol is no winner: 'fast'
    lost a run to oom, so its one surviving run's 90 % does not make the
    front; and regression figures are named as their tables are."""
    from poolbench.report import figures
    from poolbench.report.summary import fold_means

    fast = rows("fast", "D", [[0.9, 0.0]], shape=(1, 2), status={(0, 1): "oom"})
    for row in fast:
        row["sec_per_epoch"] = 0.01
    slow = rows("slow", "D", [[0.7, 0.7]], shape=(1, 2))
    _, summary = build_tables(frame(fast, slow))
    drawn = []
    monkeypatch.setattr(figures, "_save", lambda fig, out, stem: drawn.append(fig))
    figures.accuracy_vs_time(summary, tmp_path, "cv")
    front = next(
        ln for ln in drawn[0].axes[0].lines if ln.get_label() == "Pareto front"
    )
    assert list(front.get_ydata()) == [70.0]
    stems = []
    monkeypatch.setattr(
        figures, "_save", lambda fig, out, stem: stems.append(stem) or []
    )
    regression = rows("a", "D", [[0.0]], shape=(1, 1))
    regression[0].update(metric="rmse", test_rmse=1.5, test_acc=float("nan"))
    _, summary = build_tables(frame(regression))
    figures.draw_figures(summary, fold_means(pd.DataFrame(regression)), tmp_path)
    assert stems and all(s.endswith("-regression") for s in stems)


def test_a_mean_that_rounds_to_zero_prints_without_a_sign():
    from poolbench.report.summary import mean_std_text

    assert mean_std_text(-0.0001, 0.0002, 3) == "0.000 ± 0.000"  # was -0.000
    assert mean_std_text(-0.0006, 0.0002, 3) == "-0.001 ± 0.000"


def test_box_plots_show_what_a_cells_std_is_over(tmp_path, monkeypatch):
    """One split: its runs (the box was one line per pooler, while the table
    printed a std over the runs); k folds: the per-fold means."""
    from poolbench.report import figures
    from poolbench.report.summary import spread_values

    one_split = rows("a", "D", [[0.5, 0.6, 0.7]], shape=(1, 3))
    folds = rows("b", "E", [[0.5, 0.7], [0.9, 0.9]], shape=(2, 2))
    latest = frame(one_split, folds)
    _, summary = build_tables(latest)
    values = spread_values(latest, summary)
    assert sorted(values[values.pooler == "a"].score) == [0.5, 0.6, 0.7]
    assert sorted(values[values.pooler == "b"].score) == pytest.approx([0.6, 0.9])
    drawn = []
    monkeypatch.setattr(figures, "_save", lambda fig, out, stem: drawn.append(fig))
    part = summary[summary.pooler == "a"]
    figures.fold_boxplots(part, values.merge(part[["experiment"]]), tmp_path, "x")
    assert drawn[0].axes[0].get_ylabel().startswith("per run")
