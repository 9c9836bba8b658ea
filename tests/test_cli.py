"""The real CLI in a subprocess: train, multirun, W&B offline, list.

Every kind of bad input has its own table in ``test_bad_input.py``.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from poolbench.results.row import COLUMNS
from tests.cli_helpers import QUICK, rows, run_cli


def check_cv_rows(frame, dataset, pooler):
    assert list(frame.columns) == COLUMNS
    assert len(frame) == 30
    assert sorted(set(zip(frame.fold, frame.run))) == [
        (f, r) for f in range(10) for r in range(3)
    ]
    assert (frame.status == "ok").all()
    assert frame.test_acc.between(0, 1).all() and frame.val_acc.between(0, 1).all()
    assert (frame.dataset == dataset).all() and (frame.pooler == pooler).all()
    assert (frame.sec_per_epoch > 0).all() and (frame.peak_mem_mb > 0).all()
    assert (frame.params > 0).all() and frame.config_hash.nunique() == 1


def test_train_cv10_on_mutag_through_the_mirror(cli):
    out = cli("train", "pooler=mincut", "dataset=mutag", *QUICK)
    assert out.returncode == 0, out.stderr
    check_cv_rows(rows(cli.cwd), "MUTAG", "mincut")
    assert "mean ± std over folds" in out.stdout and "MUTAG" in out.stdout
    summary = (cli.cwd / "results" / "summaries.jsonl").read_text().splitlines()
    assert len(summary) == 1 and json.loads(summary[0])["folds"] == 10
    # rerunning the same command resumes: nothing left to do, no duplicate rows
    again = cli("train", "pooler=mincut", "dataset=mutag", *QUICK)
    assert again.returncode == 0 and "0 of 30 runs to do" in again.stderr
    assert len(rows(cli.cwd)) == 30
    summary = (cli.cwd / "results" / "summaries.jsonl").read_text().splitlines()
    assert len(summary) == 1  # one line per experiment: the rerun's replaces it


def test_train_cv10_on_the_synthetic_set(cli):
    out = cli("train", "pooler=topk", "dataset=synth_easy_small", *QUICK)
    assert out.returncode == 0, out.stderr
    check_cv_rows(rows(cli.cwd), "SYNTH-EASY-SMALL", "topk")


def test_same_seed_gives_identical_rows(cli):
    args = ["train", "pooler=mincut", "dataset=ptc_mr", "protocol=holdout", *QUICK]
    assert cli(*args, "results.dir=a").returncode == 0
    assert cli(*args, "results.dir=b").returncode == 0
    a, b = rows(cli.cwd, "a"), rows(cli.cwd, "b")
    cols = [
        "seed",
        "best_epoch",
        "train_acc",
        "val_acc",
        "val_loss",
        "test_acc",
        "test_loss",
    ]
    assert a[cols].equals(b[cols])
    other = cli(*args, "results.dir=c", "seed=1")
    assert other.returncode == 0
    assert not rows(cli.cwd, "c")[cols].equals(a[cols])


def test_multirun_two_by_two(cli):
    out = cli(
        "train",
        "-m",
        "pooler=mincut,topk",
        "dataset=mutag,ptc_mr",
        "protocol=holdout",
        *QUICK,
    )
    assert out.returncode == 0, out.stderr
    frame = rows(cli.cwd)
    assert sorted(zip(frame.dataset, frame.pooler)) == [
        ("MUTAG", "mincut"),
        ("MUTAG", "topk"),
        ("PTC_MR", "mincut"),
        ("PTC_MR", "topk"),
    ]
    assert frame.config_hash.nunique() == 4


@pytest.mark.skipif(shutil.which("wandb") is None, reason="wandb CLI not installed")
def test_wandb_offline_run_holds_the_logged_metrics(cli):
    out = cli(
        "train",
        "pooler=topk",
        "dataset=mutag",
        "protocol=holdout",
        "logger=wandb",
        *QUICK,
        env={"WANDB_SILENT": "true"},
    )
    assert out.returncode == 0, out.stderr
    runs = list((cli.cwd / "results" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    inspected = subprocess.run(
        ["wandb", "leet", "inspect", "--summary", "--json", str(runs[0])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    info = json.loads(inspected.stdout)
    text = json.dumps(info)
    row = rows(cli.cwd).iloc[0]
    assert row.wandb_id and row.wandb_id in runs[0].name
    assert "val_loss" in text and "test_acc" in text
    assert info["config"]["pooler"]["_target_"].endswith("TopKPool")
    assert info.get("exit_code", 0) == 0


def test_missing_dataset_names_both_fixes(tmp_path, data_root):
    empty = tmp_path / "empty_mirror"
    empty.mkdir()
    out = run_cli(
        ["train", "dataset=mutag", "protocol=holdout"],
        tmp_path,
        tmp_path / "fresh_root",
        empty,
    )
    assert out.returncode == 2
    assert "data.mirror" in out.stderr and "download" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "results" / "results.csv").exists()


def test_list_and_help(cli):
    poolers = cli("list", "poolers")
    assert poolers.returncode == 0
    for name in ("mincut", "topk", "none", "soft_clustering", "dense", "sparse"):
        assert name in poolers.stdout
    datasets = cli("list", "datasets", env={"COLUMNS": "200"})
    assert datasets.returncode == 0
    rows = {line.split("│")[1].strip(): line for line in datasets.stdout.splitlines()
            if line.count("│") > 3}  # fmt: skip
    assert "MUTAG" in rows["mutag"] and "188" in rows["mutag"]
    assert "node, community" in rows["cora"] and "1 graph" in rows["cora"]
    assert "regression" in rows["esol"] and "regression" not in rows["mutag"]
    (header,) = [line for line in datasets.stdout.splitlines() if "┃ config" in line]
    classes = [c.strip() for c in header.split("┃")].index("classes")
    cells = {k: [c.strip() for c in v.split("│")] for k, v in rows.items()}
    assert cells["cora"][classes] == "7" and cells["citeseer"][classes] == "6"
    # facts the loaders declare, shown without loading or generating anything
    graphs, features = (
        [c.strip() for c in header.split("┃")].index(k) for k in ("graphs", "features")
    )
    assert cells["cora"][features] == "1433" and cells["esol"][graphs] == "1128"
    assert cells["synth_easy_small"][graphs] == "300, generated"
    assert cells["sbm"][classes] == "5" and cells["esol"][features] == "177"
    assert "generated" in rows["expwl1"]
    assert "generated" not in rows["expwl1_original"]  # the authors' file
    helped = cli("--help")
    assert helped.returncode == 0 and "poolbench train" in helped.stdout
    unknown = cli("frobnicate")
    assert unknown.returncode == 2 and "--help" in unknown.stderr
