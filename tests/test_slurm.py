"""Sweeps through sbatch on the one-node cluster of ``scripts/slurm-local``.

Each test submits real Slurm array jobs with ``hydra/launcher=slurm`` and checks
the rows in one results store (an absolute ``results.dir``: the "shared
filesystem" of a one-node cluster) and the job states in ``sacct``. Without
that cluster they skip with the reason; with ``POOLBENCH_REQUIRE_SLURM=1`` (set
by CI, which starts the cluster) they fail instead, so a broken start cannot
hide behind a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from poolbench.results.store import ResultsStore
from tests.cli_helpers import REPO, run_cli

CLUSTER = "poolbench"  # ClusterName in the slurm.conf that scripts/slurm-local writes
SWEEP = ["train", "-m", "hydra/launcher=slurm", "dataset=mutag", "protocol=holdout"]
RUN_KEY = ["config_hash", "fold", "run"]


def cluster_problem() -> str | None:
    """Why the Slurm tests cannot run here, or None when they can."""
    if shutil.which("sbatch") is None:
        return "no sbatch on PATH"
    conf = Path(os.environ.get("SLURM_CONF", "/etc/slurm/slurm.conf"))
    if not conf.is_file() or f"ClusterName={CLUSTER}" not in conf.read_text():
        return f"{conf} is not the local cluster {CLUSTER!r}"
    try:
        state = subprocess.run(
            ["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"Slurm does not answer: {exc}"
    if state.returncode != 0:
        return f"Slurm does not answer: {state.stderr.strip()}"
    if not set(state.stdout.split()) & {"idle", "mix", "alloc"}:
        return f"no usable node (sinfo: {state.stdout.strip()})"
    return None


@pytest.fixture(scope="module")
def slurm():
    problem = cluster_problem()
    if problem is not None:
        message = f"{problem}: start one with `sudo scripts/slurm-local start`"
        if os.environ.get("POOLBENCH_REQUIRE_SLURM") == "1":
            pytest.fail(f"POOLBENCH_REQUIRE_SLURM=1 but {message}")
        pytest.skip(message)


@pytest.fixture
def results(tmp_path, slurm) -> Path:
    return (tmp_path / "results").resolve()


def sweep_jobs(results: Path) -> list[str]:
    """The array tasks the sweeps submitted, from submitit's folders (``12_0``)."""
    return sorted(
        p.name for p in results.glob("hydra/multirun/*/.submitit/*_*") if p.is_dir()
    )


def sacct_states(jobs: list[str], limit_s: float = 120) -> dict[str, str]:
    """The jobs' final states in ``sacct``, once every job has ended there.

    slurmctld reports a job's end to slurmdbd a moment after the job leaves
    the queue, so a job can read RUNNING for a while after its result.
    """
    ids = ",".join(sorted({job.split("_")[0] for job in jobs}))
    command = ["sacct", "-X", "-n", "-P", "-o", "JobID,State", "-j", ids]
    deadline = time.monotonic() + limit_s
    while True:
        out = subprocess.run(command, capture_output=True, text=True, check=True)
        states = dict(line.split("|") for line in out.stdout.splitlines() if line)
        ended = set(jobs) <= set(states) and not any(
            states[job] in ("PENDING", "RUNNING", "COMPLETING") for job in jobs
        )
        if ended or time.monotonic() > deadline:
            return {job: states.get(job, "missing") for job in jobs}
        time.sleep(0.5)


def wait_for_empty_queue(limit_s: float = 120) -> None:
    deadline = time.monotonic() + limit_s
    while subprocess.run(["squeue", "-h"], capture_output=True, text=True).stdout:
        assert time.monotonic() < deadline, "Slurm jobs still queued"
        time.sleep(0.5)


def test_sweep_runs_as_slurm_jobs_into_one_store(tmp_path, results, data_root, mirror):
    args = [*SWEEP, "pooler=mincut,topk", "trainer.max_epochs=2"]
    out = run_cli([*args, f"results.dir={results}"], tmp_path, data_root, mirror)
    assert out.returncode == 0, out.stderr
    frame = ResultsStore(results).read()
    assert sorted(frame.pooler) == ["mincut", "topk"]
    assert not frame.duplicated(RUN_KEY).any()
    assert (frame.status == "ok").all() and (frame.epochs == 2).all()
    jobs = sweep_jobs(results)
    assert len(jobs) == 2
    assert sacct_states(jobs) == dict.fromkeys(jobs, "COMPLETED")


def test_a_sweep_sbatch_refuses_is_one_line_exit_2(
    tmp_path, results, data_root, mirror
):
    args = [*SWEEP, "pooler=topk", "trainer.max_epochs=1", f"results.dir={results}"]
    out = run_cli([*args, "hydra.launcher.partition=nope"], tmp_path, data_root, mirror)
    assert out.returncode == 2, out.stderr
    (line,) = out.stderr.strip().splitlines()  # not even sbatch's own echo
    assert line.startswith("poolbench: error: sbatch refused the jobs: ")
    assert "invalid partition specified: nope" in line
    assert "partitions: local (default)" in line  # scripts/slurm-local's one
    assert "hydra.launcher.partition=" in line
    assert not ResultsStore(results).read().shape[0]


def test_scancel_mid_run_then_rerun_gives_every_run_once(
    tmp_path, results, data_root, mirror
):
    # Job #1 (pooler=none) is cancelled in its second of three runs.
    args = [*SWEEP, "pooler=topk,none", "protocol.runs=3", f"results.dir={results}"]
    args += ["trainer.max_epochs=100", "trainer.patience=100"]
    store = ResultsStore(results)
    env = {**os.environ, "POOLBENCH_DATA": str(data_root), "OMP_NUM_THREADS": "1"}
    env["POOLBENCH_DATA_MIRROR"] = str(mirror)
    log = tmp_path / "first.log"
    first = subprocess.Popen(
        [sys.executable, "-m", "poolbench", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    deadline = time.monotonic() + 180
    while (store.read().pooler == "none").sum() < 1:
        assert first.poll() is None and time.monotonic() < deadline, "no row came"
        time.sleep(0.1)
    cancelled = next(job for job in sweep_jobs(results) if job.endswith("_1"))
    subprocess.run(["scancel", cancelled], check=True)
    first.wait(timeout=300)
    stderr = log.read_text()
    assert first.returncode != 0  # the launcher reports the cancelled job
    assert f"Job {cancelled}" in stderr and "CANCELLED" in stderr
    wait_for_empty_queue()
    before = store.read()
    stopped = before[before.status == "failed"]
    assert stopped.pooler.tolist() == ["none"] and stopped.run.tolist() == [1]
    assert stopped.error.iloc[0] == (
        f"stopped by SIGTERM from Slurm: job {cancelled} was cancelled, "
        "preempted or reached its time limit"
    )
    assert len(before) == 3 + 2  # topk finished; none: run 0 ok, run 1 failed

    again = run_cli(args, tmp_path, data_root, mirror)
    assert again.returncode == 0, again.stderr
    latest = store.latest()
    assert len(latest) == 6 and (latest.status == "ok").all()
    assert not latest.duplicated(RUN_KEY).any()
    raw = store.read()
    assert len(raw) == 5 + 2  # only the failed and the unstarted run ran again
    ok_before = before[before.status == "ok"]
    kept = ok_before.merge(raw, on=RUN_KEY, suffixes=("", "_after"))
    assert (kept.started_at == kept.started_at_after).all()
    assert len(kept) == len(ok_before)  # finished runs were not redone
    assert sacct_states([cancelled])[cancelled].startswith("CANCELLED")


def test_time_limit_records_the_run_as_failed_and_the_sweep_goes_on(
    tmp_path, results, data_root, mirror
):
    # Job #1 trains for ever: with a 1-minute limit Slurm warns it (SIGUSR2)
    # signal_delay_s early, at its next 30 s check; job #0 ends in seconds.
    args = [*SWEEP, "pooler=topk", "trainer.max_epochs=2,100000"]
    args += ["trainer.patience=100000", "hydra.launcher.timeout_min=1"]
    args += ["hydra.launcher.signal_delay_s=5", f"results.dir={results}"]
    out = run_cli(args, tmp_path, data_root, mirror)
    assert out.returncode == 0, out.stderr  # the launcher got both jobs' results
    store = ResultsStore(results)
    frame = store.read()
    assert len(frame) == 2
    short, long = (frame[frame.epochs == 2], frame[frame.epochs != 2])
    assert short.status.tolist() == ["ok"]
    assert long.status.tolist() == ["failed"]
    job = next(job for job in sweep_jobs(results) if job.endswith("_1"))
    assert long.error.iloc[0] == (
        f"Slurm time limit: job {job} got SIGUSR2, its warning "
        "hydra.launcher.signal_delay_s before the limit"
    )
    summaries = (results / "summaries.jsonl").read_text().splitlines()
    assert len(summaries) == 1  # the stopped experiment is unfinished: no summary
    skipped = {h for h, _, _ in store.completed()}  # what a rerun skips
    assert long.config_hash.iloc[0] not in skipped
    assert sacct_states(sweep_jobs(results)) == dict.fromkeys(
        sweep_jobs(results), "COMPLETED"
    )


def test_slurm_local_says_in_one_line_why_it_cannot_start():
    command = [str(REPO / "scripts" / "slurm-local"), "start"]
    if os.geteuid() == 0:  # as root it would start: try it as nobody
        command = ["runuser", "-u", "nobody", "--", *command]
    out = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert out.stderr == "slurm-local: needs root (run it as root or with sudo)\n"
