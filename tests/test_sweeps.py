"""Sweeps through the real CLI: launchers, SIGKILL and resume, fail-fast, n_jobs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from poolbench.pooling.base import Pooler
from poolbench.results.store import ResultsStore
from poolbench.training import device as device_mod
from tests.cli_helpers import QUICK, REPO, rows, run_cli

ACC_COLS = ["fold", "run", "seed", "best_epoch", "val_loss", "test_acc", "test_loss"]


class ExplodingPool(Pooler):
    """A pooler whose forward always raises: every run that uses it fails."""

    family = "control"

    def forward(self, x, edge_index, edge_weight, batch):
        raise RuntimeError("boom from ExplodingPool")


def assert_each_run_once(frame, n):
    assert len(frame) == n
    assert not frame.duplicated(["config_hash", "fold", "run"]).any()
    assert (frame.status == "ok").all()


def test_joblib_multirun_of_four_jobs_writes_every_row_once(cli):
    out = cli(
        "train",
        "-m",
        "pooler=topk,none",
        "dataset=mutag,ptc_mr",
        "protocol=holdout",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        *QUICK,
    )
    assert out.returncode == 0, out.stderr
    frame = rows(cli.cwd)
    assert_each_run_once(frame, 4)
    assert frame.config_hash.nunique() == 4
    assert "Joblib.Parallel" in out.stdout + out.stderr


def test_submitit_local_multirun(cli):
    out = cli(
        "train",
        "-m",
        "pooler=topk,none",
        "dataset=mutag",
        "protocol=holdout",
        "hydra/launcher=submitit_local",
        *QUICK,
    )
    assert out.returncode == 0, out.stderr
    frame = rows(cli.cwd)
    assert_each_run_once(frame, 2)
    assert sorted(frame.pooler) == ["none", "topk"]
    assert list((cli.cwd / "results" / "hydra" / "multirun").rglob(".submitit"))


def test_sigkill_mid_sweep_then_rerun_finishes_every_run_exactly_once(
    tmp_path, data_root, mirror
):
    args = ["train", "-m", "pooler=topk,none", "dataset=mutag", "protocol.runs=1"]
    args += QUICK
    store = ResultsStore(tmp_path / "results")
    env = {
        **os.environ,
        "POOLBENCH_DATA": str(data_root),
        "POOLBENCH_DATA_MIRROR": str(mirror),
        "OMP_NUM_THREADS": "1",
        "PYTHONWARNINGS": "ignore",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "poolbench", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: we kill only what we began
    )
    deadline = time.monotonic() + 300
    # 11 rows: the first job (10 runs) finished and wrote its summary, the
    # second is under way
    while len(store.read()) < 11 and proc.poll() is None:
        assert time.monotonic() < deadline, "no rows appeared"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = store.read()
    assert 11 <= len(before) < 20, "the sweep must be killed mid-way"

    again = run_cli(args, tmp_path, data_root, mirror)
    assert again.returncode == 0, again.stderr
    latest = store.latest()
    assert_each_run_once(latest, 20)  # 2 jobs × 10 folds × 1 run
    raw = store.read()
    key = ["config_hash", "fold", "run"]
    assert len(raw) == 20  # no run finished before the kill was written again
    finished = before.merge(raw, on=key, suffixes=("_before", "_after"))
    assert len(finished) == len(before)
    assert (finished.started_at_before == finished.started_at_after).all()
    assert (finished.finished_at_before == finished.finished_at_after).all()
    assert (finished.test_acc_before == finished.test_acc_after).all()
    # one summary line per experiment, though a job may have written one before
    # the kill and again on the rerun
    lines = (tmp_path / "results" / "summaries.jsonl").read_text().splitlines()
    keys = [(s["config_hash"], s["data_fingerprint"]) for s in map(json.loads, lines)]
    assert len(keys) == len(set(keys)) == 2


def test_failed_runs_are_recorded_and_fail_fast_stops_the_sweep(cli):
    args = [
        "train",
        "-m",
        "pooler=custom",
        "pooler._target_=tests.test_sweeps.ExplodingPool",
        "dataset=mutag,ptc_mr",
        "protocol=holdout",
        *QUICK,
    ]
    env = {"PYTHONPATH": str(REPO)}
    out = cli(*args, "results.dir=goes_on", env=env)
    # the sweep goes on past a failed job; as every run failed, it exits 1
    assert out.returncode == 1, out.stderr
    assert "poolbench: every run failed (2 runs" in out.stderr
    frame = rows(cli.cwd, "goes_on")
    assert sorted(frame.dataset) == ["MUTAG", "PTC_MR"]
    assert (frame.status == "failed").all()
    assert frame.error.str.contains("boom from ExplodingPool").all()

    out = cli(*args, "results.dir=stops", "protocol.fail_fast=true", env=env)
    assert out.returncode == 1
    assert "protocol.fail_fast=true stops the sweep" in out.stderr
    frame = rows(cli.cwd, "stops")
    assert len(frame) == 1 and frame.status.tolist() == ["failed"]  # 2nd job never ran


def test_protocol_n_jobs_two_gives_the_rows_of_a_sequential_run(cli):
    args = ["train", "pooler=topk", "dataset=mutag", "protocol.folds=3"]
    args += ["protocol.runs=2", *QUICK]
    assert cli(*args, "results.dir=seq").returncode == 0
    out = cli(*args, "results.dir=par", "protocol.n_jobs=2")
    assert out.returncode == 0, out.stderr
    seq, par = rows(cli.cwd, "seq"), rows(cli.cwd, "par")
    assert_each_run_once(par, 6)
    order = ["fold", "run"]
    seq = seq.sort_values(order).reset_index(drop=True)
    par = par.sort_values(order).reset_index(drop=True)
    assert seq[ACC_COLS].equals(par[ACC_COLS])
    assert (seq.config_hash == par.config_hash).all()  # n_jobs is not identity


def test_gpu_for_job_takes_job_number_modulo_gpus():
    gpus = ["0", "1", "2"]
    assert [device_mod.gpu_for_job(n, gpus) for n in range(7)] == list("0120120")
    assert device_mod.gpu_for_job(5, ["4", "6"]) == "6"  # ids of a narrowed set
    with pytest.raises(ValueError):
        device_mod.gpu_for_job(0, [])


def test_visible_gpus_reads_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3, 5")
    assert device_mod.visible_gpus() == ["3", "5"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert device_mod.visible_gpus() == []


def test_pin_job_to_gpu(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    assert device_mod.pin_job_to_gpu(3, "auto") == "auto"
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "1"
    # an explicit device is the user's choice
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    assert device_mod.pin_job_to_gpu(3, "cuda:0") == "cuda:0"
    assert device_mod.pin_job_to_gpu(3, "cpu") == "cpu"
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0,1"
    # a reused worker with CUDA up cannot narrow its GPUs: an index instead
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    assert device_mod.pin_job_to_gpu(3, "cuda") == "cuda:1"
    # one GPU or none: nothing to share out
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")
    assert device_mod.pin_job_to_gpu(4, "auto") == "auto"
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "7"


@pytest.mark.parametrize(
    "signum, reason",
    [
        (signal.SIGTERM, "stopped by SIGTERM"),
        (signal.SIGINT, "stopped by SIGINT (Ctrl-C)"),
    ],
)
def test_a_stop_signal_mid_run_writes_it_as_failed_and_a_rerun_redoes_it(
    tmp_path, data_root, mirror, signum, reason
):
    args = ["train", "pooler=topk", "dataset=mutag", "protocol=holdout"]
    args += ["trainer.max_epochs=250", "trainer.patience=250", "model.hidden=16"]
    env = {
        **os.environ,
        "POOLBENCH_DATA": str(data_root),
        "POOLBENCH_DATA_MIRROR": str(mirror),
        "OMP_NUM_THREADS": "1",
    }
    log = tmp_path / "stderr.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "poolbench", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    deadline = time.monotonic() + 120
    while "runs to do" not in log.read_text():  # printed as the runs begin
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    time.sleep(1.5)  # well inside the single run of 250 epochs (about 5 s)
    proc.send_signal(signum)
    assert proc.wait(timeout=60) == 128 + signum
    text = log.read_text()
    assert f"poolbench: {reason}; rerunning the same command" in text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text
    store = ResultsStore(tmp_path / "results")
    stopped = store.read()
    assert stopped.status.tolist() == ["failed"]
    assert stopped.error.tolist() == [reason]
    assert store.completed() == set()

    again = run_cli(args, tmp_path, data_root, mirror)
    assert again.returncode == 0, again.stderr
    raw = store.read()
    assert raw.status.tolist() == ["failed", "ok"]
    assert raw.config_hash.nunique() == 1
    assert_each_run_once(store.latest(), 1)
