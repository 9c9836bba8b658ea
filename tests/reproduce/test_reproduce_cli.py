"""``poolbench reproduce`` as a user runs it: offline, resumable, one-line errors."""

from __future__ import annotations

import pytest

from poolbench.errors import PoolbenchError
from poolbench.reproduce.run import plan
from poolbench.reproduce.spec import available, budget_of, load_reproduction
from tests.cli_helpers import rows

# Seconds, not minutes: two poolers on the small synthetic sets, 1 epoch, 2 runs.
TINY = [
    "bianchi2022_easy_hard",
    "--budget",
    "quick",
    "--only",
    "mincut,topk",
    "--set",
    "trainer.max_epochs=1",
    "--set",
    "protocol.runs=2",
    "--report",
    "report/bianchi.md",
]


def test_reproduce_prints_the_side_by_side_table_writes_the_report_and_resumes(cli):
    first = cli("reproduce", *TINY)
    assert first.returncode == 0, first.stderr[-2000:]
    out = first.stdout
    for text in ("paper", "ours", "verdict", "99.0 ± 0.0", "42.7 ± 15.2"):
        assert text in out
    assert out.count("SYNTH-") >= 4  # 2 poolers x 2 stand-in sets
    assert "budget quick: For a 2-core CPU" in out  # the reduction, on the table
    assert "Average rank over 2 dataset(s)" in out
    # the --set overrides are stated under the table, not only in the report
    assert "every cell also ran with: trainer.max_epochs=1 protocol.runs=2" in out
    # each run's line names its cell: the experiment name is shared by all cells
    assert "bianchi2022 (mincut on SYNTH-HARD-SMALL) fold 0 run 1: ok" in first.stderr
    stored = rows(cli.cwd)
    assert len(stored) == 8 and set(stored["status"]) == {"ok"}
    assert set(stored["dataset"]) == {"SYNTH-EASY-SMALL", "SYNTH-HARD-SMALL"}
    assert set(stored["pooler"]) == {"mincut", "topk"}
    report = (cli.cwd / "report" / "bianchi.md").read_text()
    for text in (
        "poolbench reproduce bianchi2022_easy_hard --budget quick",
        "What was reduced and why (quick)",
        "trainer.max_epochs=1",  # the extra overrides are stated
        "| mincut | SYNTH-HARD-SMALL | 73.8 ± 1.9 |",
        "## Ranks",
        "Commit:",
    ):
        assert text in report, text
    assert (cli.cwd / "report" / "bianchi-cd.png").is_file()

    again = cli("reproduce", *TINY)
    assert again.returncode == 0
    assert again.stderr.count("0 of 2 runs to do") == 4  # resume: nothing retrained
    assert len(rows(cli.cwd)) == 8


@pytest.mark.parametrize(
    "args, message",
    [
        (["nope"], "unknown experiment 'nope' for reproduce; available:"),
        (["errica2020", "--budget", "huge"], "unknown budget 'huge' for errica2020"),
        (["errica2020", "--only", "SAGE"], "--only SAGE: not a method of errica2020"),
        (
            ["errica2020", "--set", "trainer.max_epoch=1"],
            "unknown key trainer.max_epoch; did you mean trainer.max_epochs?",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_work(cli, args, message):
    result = cli("reproduce", *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not (cli.cwd / "results").exists()


def test_help_lists_reproduce(cli):
    assert "reproduce <experiment> [--budget quick|full]" in cli("--help").stdout


@pytest.mark.parametrize("name", available())
def test_every_cell_of_every_budget_composes(name, tmp_path):
    spec = load_reproduction(name)
    # a data root holding the authors' EXPWL1.pkl, which plan looks for
    published = tmp_path / "data" / "EXPWL1" / "raw" / "EXPWL1.pkl"
    published.parent.mkdir(parents=True)
    published.write_bytes(b"")
    root = [f"data.root={tmp_path / 'data'}"]
    for budget in spec.budgets:
        for run in plan(spec, budget_of(spec, budget), str(tmp_path), root):
            assert run.cfg.results.dir == str(tmp_path)
            assert run.cell.published_std >= 0


def test_budget_cuts_apply_per_method_and_per_cell(tmp_path):
    spec = load_reproduction("errica2020")
    runs = {
        (r.cell.method, r.dataset_config): r.cfg
        for r in plan(spec, budget_of(spec, "quick"), str(tmp_path))
    }
    assert set(runs) == {
        ("Baseline", "proteins"),
        ("Baseline", "enzymes"),
        ("DiffPool", "proteins"),
        ("DiffPool", "enzymes"),
    }
    assert all(cfg.protocol.runs == 1 for cfg in runs.values())  # every cell
    proteins, enzymes = runs[("Baseline", "proteins")], runs[("Baseline", "enzymes")]
    assert dict(proteins.protocol.grid.trainer) == {
        "lr": [0.001, 0.1],
        "weight_decay": [0.0001, 0.01],
    }
    assert not enzymes.protocol.grid and enzymes.trainer.max_epochs == 1000
    assert enzymes.model._target_.endswith("DeepMultisets")  # the ENZYMES baseline
    full = {
        (r.cell.method, r.dataset_config): r.cfg
        for r in plan(spec, budget_of(spec, "full"), str(tmp_path))
    }
    assert len(full) == 12 and full[("GIN", "nci1")].trainer.lr_step == 50
    assert full[("DiffPool", "dd")].protocol.runs == 3


def test_a_cell_on_changed_data_is_a_stand_in(tmp_path):
    """Only the paper's own data, unmodified, gets a verdict."""
    spec = load_reproduction("bianchi_lachi2023")
    # the full budget reads the authors' EXPWL1.pkl: without it, plan refuses
    with pytest.raises(PoolbenchError, match="EXPWL1.pkl not found"):
        plan(spec, budget_of(spec, "full"), str(tmp_path), ["data.mirror=null"])
    mirror = tmp_path / "mirror"
    (mirror / "EXPWL1" / "raw").mkdir(parents=True)
    (mirror / "EXPWL1" / "raw" / "EXPWL1.pkl").write_bytes(b"")  # only looked for
    with_file = [f"data.mirror={mirror}"]
    full = plan(spec, budget_of(spec, "full"), str(tmp_path), with_file)
    assert not any(r.stand_in for r in full)
    assert all(r.stand_in for r in plan(spec, budget_of(spec, "quick"), str(tmp_path)))
    budget = budget_of(spec, "full")
    budget.overrides = [*budget.overrides, "dataset.source=generated"]
    assert all(r.stand_in for r in plan(spec, budget, str(tmp_path)))


def test_set_overrides_win_and_a_replaced_dataset_is_a_stand_in(tmp_path):
    spec = load_reproduction("errica2020")
    quick = budget_of(spec, "quick")
    runs = plan(spec, quick, str(tmp_path), ["trainer.max_epochs=5"])
    # --set comes after every cut of the budget, per method and per cell too
    assert {r.cfg.trainer.max_epochs for r in runs} == {5}
    assert not any(r.stand_in for r in runs)
    other = plan(spec, quick, str(tmp_path), ["dataset=mutag"])
    assert all(r.stand_in for r in other)


def test_plan_checks_every_cell_before_any_runs(tmp_path):
    spec = load_reproduction("errica2020")
    with pytest.raises(PoolbenchError, match="trainer.lr must be > 0"):
        plan(spec, budget_of(spec, "quick"), str(tmp_path), ["trainer.lr=0"])
