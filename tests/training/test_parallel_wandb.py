"""W&B under ``protocol.n_jobs > 1``: each row links its own offline run.

The folds run in spawned workers that write their rows themselves, so the W&B
run must be opened in the worker, before the row is written, exactly as in a
sequential run (it once was opened in the parent after the fold: every row's
``wandb_id`` was empty).
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.cli_helpers import QUICK, rows

PARALLEL = ["protocol.folds=2", "protocol.runs=1", "protocol.n_jobs=2"]


def inspect_run(folder) -> dict:
    out = subprocess.run(
        ["wandb", "leet", "inspect", "--summary", "--json", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return json.loads(out.stdout)


@pytest.mark.skipif(shutil.which("wandb") is None, reason="wandb CLI not installed")
def test_rows_written_by_workers_carry_their_wandb_id(cli):
    args = ["train", "pooler=topk", "dataset=mutag", "logger=wandb"]
    out = cli(*args, "logger.mode=offline", *PARALLEL, *QUICK)
    assert out.returncode == 0, out.stderr
    frame = rows(cli.cwd)
    assert sorted(frame.fold) == [0, 1] and (frame.status == "ok").all()
    runs = {
        p.name.rsplit("-", 1)[-1]: p
        for p in (cli.cwd / "results" / "wandb").glob("offline-run-*")
    }
    assert sorted(frame.wandb_id) == sorted(runs), (list(frame.wandb_id), runs)
    for row in frame.itertuples():
        info = inspect_run(runs[row.wandb_id])
        # the run of this row's fold, with its curves and final scores
        assert info["config"]["fold"] == row.fold, info["config"]
        assert "val_loss" in json.dumps(info) and "test_acc" in json.dumps(info)
        assert info.get("exit_code", 0) == 0
