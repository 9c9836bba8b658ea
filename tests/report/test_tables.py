"""Table building and rendering on hand-made rows: labels, ranks, bold, LaTeX, eval."""

from __future__ import annotations

import sys

import pandas as pd
import pytest

from poolbench.errors import PoolbenchError
from poolbench.report.cli import table_command
from poolbench.report.figures import pareto_front
from poolbench.report.render import latex_escape, to_latex, to_markdown
from poolbench.report.tables import average_ranks, build_tables
from poolbench.results.row import ResultRow


def rows(pooler, dataset, accs, model="gin[2-1]h64", status=None, h=None):
    out = []
    for fold, fold_accs in enumerate(accs):
        for run, acc in enumerate(fold_accs):
            out.append(
                ResultRow(
                    experiment=f"{dataset}-{pooler}",
                    dataset=dataset,
                    pooler=pooler,
                    model=model,
                    protocol="cv10",
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
    acc, _, _, counts = tables
    assert acc.text("a", "D1") == "77.50 ± 7.50"  # folds 0.85 and 0.70
    assert ("a", "D1") in acc.best and ("b", "D2") in acc.best
    assert acc.text("b", "D2") == "90.00 ± 0.00†"  # 3 of 4 runs ok
    assert acc.text("a", "avg. rank") == acc.text("b", "avg. rank") == "1.50"
    assert counts.text("b", "D2") == "3/4 (1 nan)"
    assert "**77.50 ± 7.50**" in to_markdown(acc)


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
    acc, _, _, counts = build_tables(data)[0]
    assert acc.text("a", "D2") == "—" and counts.text("a", "D2") == "missing 0/1"
    assert acc.text("a", "avg. rank") == "1.00‡"


def test_average_ranks_share_ties():
    values = {("a", "D"): 0.9, ("b", "D"): 0.9, ("c", "D"): 0.1}
    ranks = average_ranks(values, ["a", "b", "c"], ["D"])
    assert ranks["a"] == (1.5, 1) and ranks["c"] == (3.0, 1)


def test_pareto_front_keeps_the_undominated_points():
    points = [(1.0, 0.6), (2.0, 0.8), (1.5, 0.5), (3.0, 0.8), (4.0, 0.9)]
    assert pareto_front(points) == [0, 1, 4]


def test_latex_is_escaped_and_booktabs():
    assert latex_escape("PTC_MR 5% a&b ± —") == r"PTC\_MR 5\% a\&b $\pm$ --"
    acc = build_tables(frame(rows("a_b", "D", [[0.5]])))[0][0]
    tex = to_latex(acc)
    assert r"\toprule" in tex and r"a\_b & \textbf{50.00 $\pm$ 0.00}" in tex


def test_eval_kind_without_the_evaluation_report_fails_clearly(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "poolbench.evaluation.report", None)
    with pytest.raises(PoolbenchError, match="needs poolbench.evaluation.report"):
        table_command(["--kind", "eval", f"--results-dir={tmp_path}"])


def test_eval_kind_calls_the_evaluation_report(monkeypatch, tmp_path):
    calls = []
    module = type(sys)("poolbench.evaluation.report")
    module.render_eval_tables = lambda *args: calls.append(args)
    monkeypatch.setitem(sys.modules, "poolbench.evaluation.report", module)
    table_command(["--kind", "eval", f"--results-dir={tmp_path}"])
    assert calls and calls[0][0] == tmp_path and calls[0][1] == tmp_path / "tables"
