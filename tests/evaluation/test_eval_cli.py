"""``poolbench eval`` end to end in a subprocess: rows, tables, figures, bad input."""

from __future__ import annotations

import re

import pytest
from rich.console import Console

from poolbench.errors import PoolbenchError
from poolbench.evaluation.cli import eval_command
from poolbench.evaluation.report import render_eval_tables
from poolbench.evaluation.rows import EvalStore
from tests.cli_helpers import run_cli


def test_autoencoder_and_spectral_write_rows_tables_and_figures(
    tmp_path, data_root, capsys
):
    common = ["pooler=none,topk", "eval.steps=3", "eval.graphs=[ring,grid]"]
    for kind in ("autoencoder", "spectral"):
        proc = run_cli(["eval", kind, *common], tmp_path, data_root, None, timeout=300)
        assert proc.returncode == 0, proc.stderr
    assert "spectral_ring.png" in proc.stderr and "spectral_grid.png" in proc.stderr
    rows = EvalStore(tmp_path / "results").read()
    assert len(rows) == 8 and set(rows["status"]) == {"ok"}
    spectral = rows[rows["kind"] == "spectral"].set_index(["pooler", "graph"])
    assert spectral.loc[("none", "ring"), "spectral_loss"] < 1e-8
    assert spectral.loc[("topk", "ring"), "k_over_n"] == 0.5
    figures = tmp_path / "results" / "figures"
    for name in (
        "autoencoder_ring",
        "autoencoder_grid",
        "spectral_ring",
        "spectral_grid",
    ):
        assert (figures / f"{name}.png").stat().st_size > 1000
    written = render_eval_tables(tmp_path / "results", tmp_path / "tables", Console())
    assert {p.name for p in written} >= {"eval_autoencoder.md", "eval_spectral.csv"}
    assert "| topk |" in (tmp_path / "tables" / "eval_spectral.md").read_text()
    # a later command on one graph redraws (and lists) that graph's figure only
    results = tmp_path / "results"
    eval_command(
        ["spectral", "pooler=none", "eval.graphs=[grid]", f"results.dir={results}"]
    )
    listed = capsys.readouterr().err
    assert "spectral_grid.png" in listed and "spectral_ring.png" not in listed


def test_expressiveness_runs_on_a_small_generated_set(tmp_path, data_root):
    args = ["eval", "expressiveness", "pooler=topk", "dataset.pairs=20"]
    args += ["trainer.max_epochs=2", "trainer.batch_size=8"]
    proc = run_cli(args, tmp_path, data_root, None, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (row,) = EvalStore(tmp_path / "results").read().itertuples()
    assert row.status == "ok" and row.wl_mp == "yes" and row.epochs == 2
    assert row.rowsum_spread == 1.0 and row.verdict == "not: row sums, RED"
    assert 0.0 <= row.test_acc <= 1.0 and "Expressiveness" in proc.stdout


def test_bad_input_from_the_shell_is_one_line_and_exit_2(tmp_path, data_root):
    args = ["eval", "spectral", "pooler=nosuch"]
    proc = run_cli(args, tmp_path, data_root, None, timeout=120)
    assert proc.returncode == 2 and "unknown pooler" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["nosuch"], "unknown evaluation"),
        (["spectral", "pooler=none,nosuch"], "unknown pooler"),
        (["spectral", "pooler=none", "eval.nosuch=1"], "unknown key eval.nosuch"),
        (["spectral", "pooler=none", "eval.stepz=1"], "did you mean eval.steps"),
        (["spectral", "pooler=none", "eval.steps=0"], "eval.steps must be ≥ 1"),
        (["spectral", "pooler=none", "trainer.lrr=1"], "did you mean trainer.lr"),
        (
            ["spectral", "pooler=none", "trainer.lrr=1", "trainer.max_epoch=1"],
            "unknown key trainer.lrr; did you mean trainer.lr?",
        ),
        (["spectral", "pooler=none", "eval.steps=abc"], "eval.steps must be an int"),
        (["spectral", "pooler=none", "eval.steps=1,2"], "eval.steps must be an int"),
        (["spectral", "pooler=none", "eval.graphs=grid"], "must be a list of strings"),
        (
            ["expressiveness", "pooler=topk", "dataset.seed=abc"],
            "dataset.seed must be an integer",
        ),
        (["expressiveness", "pooler=topk", "dataset.pairs=0"], "dataset.pairs must"),
        (["spectral", "pooler=none", "trainer.lr=0"], "trainer.lr must be > 0"),
        (["spectral", "pooler=nmf", "pooler.iterations=-1"], "fix pooler.iterations"),
        (["autoencoder", "pooler=none", "eval.graphs=[cube]"], "cube"),
        (["autoencoder", "stray"], "key=value"),
    ],
)
def test_bad_input_fails_before_any_row(tmp_path, args, message):
    with pytest.raises(PoolbenchError, match=re.escape(message)) as info:
        eval_command([*args, f"results.dir={tmp_path}"])
    assert "\n" not in str(info.value)
    assert not (tmp_path / "evaluations.csv").exists()


def test_a_results_dir_that_is_a_file_is_refused_before_any_work(tmp_path):
    (tmp_path / "afile").write_text("")
    with pytest.raises(PoolbenchError, match="results.dir=.* is a file"):
        eval_command(["spectral", "pooler=none", f"results.dir={tmp_path}/afile"])
