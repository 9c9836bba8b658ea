"""``poolbench table`` on a store built by a real sweep, against a hand computation."""

from __future__ import annotations

import csv
import math
from collections import defaultdict

import matplotlib.image
import pytest

from tests.cli_helpers import run_cli

SWEEP = [
    "train",
    "-m",
    "pooler=topk,none",
    "dataset=mutag",
    "protocol.folds=3",  # not cv10's 10: the tables are named cv10-3folds
    "protocol.runs=2",
    "trainer.max_epochs=3",
    "trainer.patience=3",
    "model.hidden=16",
]


@pytest.fixture(scope="module")
def swept(tmp_path_factory, data_root, mirror):
    cwd = tmp_path_factory.mktemp("table")
    out = run_cli(SWEEP, cwd, data_root, mirror)
    assert out.returncode == 0, out.stderr
    table = run_cli(["table"], cwd, data_root, mirror)
    assert table.returncode == 0, table.stderr
    return cwd, table


def hand_summary(path):
    """Mean ± population std over folds of per-fold means, from the raw CSV."""
    by_pooler = defaultdict(lambda: defaultdict(list))
    secs = defaultdict(list)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["status"] == "ok":
                by_pooler[row["pooler"]][int(row["fold"])].append(
                    float(row["test_acc"])
                )
                secs[row["pooler"]].append(float(row["sec_per_epoch"]))
    out = {}
    for pooler, folds in by_pooler.items():
        means = [sum(v) / len(v) for v in folds.values()]
        mean = sum(means) / len(means)
        std = math.sqrt(sum((m - mean) ** 2 for m in means) / len(means))
        out[pooler] = (mean, std, sum(secs[pooler]) / len(secs[pooler]))
    return out


def read_cells(path):
    with open(path, newline="") as f:
        return {r["pooler"]: r for r in csv.DictReader(f)}


def test_accuracy_table_matches_a_hand_computation(swept):
    cwd, table = swept
    expected = hand_summary(cwd / "results" / "results.csv")
    cells = read_cells(cwd / "results" / "tables" / "accuracy-cv10-3folds.csv")
    assert set(cells) == {"topk", "none"}
    for pooler, (mean, std, _) in expected.items():
        assert cells[pooler]["MUTAG"] == f"{100 * mean:.2f} ± {100 * std:.2f}"
        assert f"{100 * mean:.2f} ± {100 * std:.2f}" in table.stdout
    best = max(expected, key=lambda p: expected[p][0])
    markdown = (cwd / "results" / "tables" / "accuracy-cv10-3folds.md").read_text()
    assert f"| {best} | **{100 * expected[best][0]:.2f}" in markdown
    assert "3 fold(s) × 2 final run(s) = 6 runs per cell" in markdown
    assert "population, ddof=0" in table.stdout


def test_cost_and_count_tables(swept):
    cwd, _ = swept
    expected = hand_summary(cwd / "results" / "results.csv")
    tables = cwd / "results" / "tables"
    times = read_cells(tables / "sec-per-epoch-cv10-3folds.csv")
    for pooler, (_, _, sec) in expected.items():
        assert times[pooler]["MUTAG"].startswith(f"{sec:.4f} ± ")
    counts = read_cells(tables / "runs-cv10-3folds.csv")
    assert counts["topk"]["MUTAG"] == counts["none"]["MUTAG"] == "6/6"
    latex = (tables / "accuracy-cv10-3folds.tex").read_text()
    assert r"\toprule" in latex and r"\bottomrule" in latex and r"$\pm$" in latex
    means = {p: m for p, (m, _, _) in expected.items()}
    rank = 1.0 + sum(m > means["topk"] for m in means.values())
    rank += 0.5 * sum(m == means["topk"] for p, m in means.items() if p != "topk")
    assert (
        float(read_cells(tables / "accuracy-cv10-3folds.csv")["topk"]["avg. rank"])
        == rank
    )


def test_figures_are_valid_images(swept):
    cwd, _ = swept
    figures = cwd / "results" / "figures"
    for stem in (
        "accuracy-vs-time-cv10-3folds",
        "peak-memory-cv10-3folds",
        "fold-accuracy-cv10-3folds",
    ):
        image = matplotlib.image.imread(figures / f"{stem}.png")
        assert image.ndim == 3 and min(image.shape[:2]) > 200
        assert image.std() > 0  # something was drawn
        pdf = (figures / f"{stem}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF")


def test_filters_out_dir_and_no_figures(swept, tmp_path, data_root, mirror):
    cwd, _ = swept
    out = run_cli(
        ["table", "pooler=topk", f"--out={tmp_path}", "--no-figures"],
        cwd,
        data_root,
        mirror,
    )
    assert out.returncode == 0, out.stderr
    assert set(read_cells(tmp_path / "accuracy-cv10-3folds.csv")) == {"topk"}


def test_a_filtered_table_leaves_the_full_tables_alone(swept, data_root, mirror):
    cwd, _ = swept
    out = run_cli(["table", "pooler=topk"], cwd, data_root, mirror)
    assert out.returncode == 0, out.stderr
    tables, figures = cwd / "results" / "tables", cwd / "results" / "figures"
    assert set(read_cells(tables / "pooler=topk" / "accuracy-cv10-3folds.csv")) == {
        "topk"
    }
    assert (figures / "pooler=topk" / "accuracy-vs-time-cv10-3folds.png").is_file()
    # the store's full set, from the module's first `table`, is intact
    assert set(read_cells(tables / "accuracy-cv10-3folds.csv")) == {"topk", "none"}


@pytest.mark.parametrize(
    "args, message",
    [
        (["colour=red"], "unknown filter 'colour'"),
        (["results.dir=elsewhere"], "table reads its store with --results-dir"),
        (["dataset=proteins"], "no rows of results/results.csv match"),
        (["--results-dir=nowhere"], "no results in nowhere/results.csv"),
        (["--kind=eval", "pooler=topk"], "filters apply to --kind runs only"),
        # a typo among good names used to vanish from the table silently
        (
            ["pooler=topk,topkk"],
            "no rows of results/results.csv match pooler=topkk; the store has "
            "pooler: none, topk",
        ),
        (["--out=results/results.csv"], "--out results/results.csv is a file"),
        (["--figures=results/results.csv/figs"], "--figures results/results.csv/figs"),
    ],
)
def test_bad_table_input_is_one_line_exit_2(swept, data_root, mirror, args, message):
    cwd, _ = swept
    out = run_cli(["table", *args], cwd, data_root, mirror)
    assert out.returncode == 2
    assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr


def test_two_learning_rates_are_two_rows_named_by_the_rate(tmp_path, data_root, mirror):
    sweep = [
        "train", "-m", "pooler=topk", "dataset=mutag,ptc_mr", "protocol=holdout",
        "trainer.lr=0.01,0.001", "trainer.max_epochs=2", "trainer.patience=2",
        "model.hidden=8",
    ]  # fmt: skip
    assert run_cli(sweep, tmp_path, data_root, mirror).returncode == 0
    out = run_cli(["table", "--no-figures"], tmp_path, data_root, mirror)
    assert out.returncode == 0, out.stderr
    cells = read_cells(tmp_path / "results" / "tables" / "accuracy-holdout.csv")
    # one row per rate across both datasets, not one per dataset
    assert set(cells) == {"topk · trainer.lr=0.001", "topk · trainer.lr=0.01"}
    assert all(cells[r]["MUTAG"] and cells[r]["PTC_MR"] for r in cells)


def test_a_protocol_filter_takes_the_tables_name_too(
    swept, tmp_path, data_root, mirror
):
    cwd, _ = swept
    args = ["table", "protocol=cv10-3folds", f"--out={tmp_path}", "--no-figures"]
    out = run_cli(args, cwd, data_root, mirror)
    assert out.returncode == 0, out.stderr
    assert set(read_cells(tmp_path / "accuracy-cv10-3folds.csv")) == {"topk", "none"}


def test_a_filtered_folder_is_named_by_normalised_values():
    from poolbench.report.cli import filtered_name

    assert filtered_name({"dataset": ["mutag"]}) == filtered_name(
        {"dataset": ["MUTAG"]}
    )
    assert filtered_name({"pooler": ["topk", "mincut"]}) == "pooler=mincut,topk"


def test_the_start_line_names_the_protocol_as_its_tables_do(swept, data_root, mirror):
    """protocol=cv10 protocol.folds=3 is tabled as cv10-3folds; the line that
    starts each experiment said cv10."""
    cwd, _ = swept
    again = run_cli([SWEEP[0], "pooler=topk", *SWEEP[3:]], cwd, data_root, mirror)
    assert again.returncode == 0, again.stderr
    assert "protocol cv10-3folds: 0 of 6 runs to do" in again.stderr
