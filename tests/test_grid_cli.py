"""Grids from the command line, through the real CLI: the documented forms work
and no form is a silent no-op (issue 9, §1)."""

from __future__ import annotations

import json

import pandas as pd

from tests.cli_helpers import QUICK, rows

HOLDOUT = ["dataset=mutag", "protocol=holdout", *QUICK]
# errica2020 runs Errica et al.'s own DiffPool, sized by gnn_hidden, not hidden
ERRICA = [
    "dataset=mutag",
    "protocol=holdout",
    *(o for o in QUICK if not o.startswith("model.")),
    "model.gnn_hidden=8",
    "model.dim_embedding=8",
]


def candidates(cwd) -> pd.DataFrame:
    return pd.read_csv(cwd / "results" / "selection.csv")


def test_the_documented_grid_form_selects_per_fold(cli):
    out = cli("train", "pooler=topk", "+protocol.grid.model.hidden=[8,16]", *HOLDOUT)
    assert out.returncode == 0, out.stderr
    (row,) = rows(cli.cwd).itertuples()
    assert json.loads(row.selected)["model.hidden"] in (8, 16)
    tried = candidates(cli.cwd)
    assert sorted(json.loads(p)["model.hidden"] for p in tried.point) == [8, 16]
    assert (tried.status == "ok").all() and (tried.select_on == "val_acc").all()
    # the chosen point has the best validation accuracy of the two
    assert (tried.tiebreak_on == "val_loss").all()
    best = tried.sort_values(["score", "val_loss"], ascending=[False, True]).iloc[0]
    assert json.loads(row.selected) == json.loads(best.point)


def test_an_empty_grid_override_removes_an_experiments_grid(cli):
    out = cli("train", "experiment=errica2020", "protocol.grid={}", *ERRICA)
    assert out.returncode == 0, out.stderr
    frame = rows(cli.cwd)
    assert len(frame) == 3  # errica2020 keeps its 3 final runs on the holdout
    assert frame.selected.fillna("").eq("").all()
    assert not (cli.cwd / "results" / "selection.csv").exists()


def test_one_axis_of_an_experiments_grid_can_be_replaced(cli):
    out = cli(
        "train", "experiment=errica2020", "protocol.grid.trainer.lr=[0.01]", *ERRICA
    )
    assert out.returncode == 0, out.stderr
    points = [json.loads(p) for p in candidates(cli.cwd).point]
    assert points == [
        {"trainer.lr": 0.01, "trainer.monitor": "val_acc"},
        {"trainer.lr": 0.01, "trainer.monitor": "val_loss"},
    ]


def test_a_damaged_selection_line_is_reported_and_its_point_retrained(cli):
    grid = ["pooler=topk", "+protocol.grid.model.hidden=[8,16]", *HOLDOUT]
    assert cli("train", *grid).returncode == 0
    path = cli.cwd / "results" / "selection.csv"
    head, first, second = path.read_text().splitlines()
    path.write_text("\n".join([head, first.replace(",ok", ",0k"), second]) + "\n")
    (cli.cwd / "results" / "results.csv").unlink()  # so the fold selects again
    out = cli("train", *grid)
    assert out.returncode == 0, out.stderr
    assert "selection.csv: skipped 1 unreadable line(s) (line 2" in out.stderr
    assert len(candidates(cli.cwd)) == 3  # that point trained again, once
