"""Parallel-sweep scaling: the same runs by 1 job and by several concurrent jobs.

Each job is a separate Python process (as a Hydra joblib or Slurm job is) that
loads the data, waits at a barrier, then trains its share of the runs with
poolbench's trainer. The sweep's time is from the barrier to the last run's
end, so interpreter start-up and data loading are left out (they are the same
in every setting). Each row also gives runs per minute. Settings on the CPU:

- ``1 job, 1 thread``: the reference;
- ``2 jobs, 1 thread each``: poolbench's thread policy;
- ``2 jobs, default threads``: the naive sweep, torch's default intra-op
  threads in each job (oversubscribed when jobs x threads > cores).

On a GPU (``--device cuda``, or ``auto`` where one is visible) the settings
are 1 and N concurrent jobs on GPU 0 (``--concurrency``), each job with the
slot :func:`~poolbench.training.concurrency.plan_workers` gives it (its share
of the GPU memory). Without a GPU ``auto`` falls back to the CPU settings.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from poolbench.errors import PoolbenchError
from poolbench.training.device import usable_cores


@dataclass
class ParallelRow:
    setting: str
    jobs: int
    threads_per_job: str
    runs: int
    wall_sec: float
    speedup_vs_1_job: float
    device: str = "cpu"
    runs_per_min: float = 0.0


SETTINGS = [
    ("1 job, 1 thread", 1, 1),
    ("2 jobs, 1 thread each", 2, 1),
    ("2 jobs, default threads", 2, 0),
]


def _worker_env(threads: int) -> dict:
    env = dict(os.environ)
    if threads == 0:  # torch's own default: no thread caps inherited
        for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.pop(key, None)
    else:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def run_setting(
    jobs: int,
    threads: int,
    runs: int,
    dataset: str,
    pooler: str,
    epochs: int,
    slots: list | None = None,
) -> float:
    """Wall seconds of ``runs`` trainings shared out over ``jobs`` processes
    (each in its :class:`WorkerSlot` when ``slots`` is given)."""
    with tempfile.TemporaryDirectory() as tmp:
        go = Path(tmp) / "go"
        procs = []
        for job in range(jobs):
            share = list(range(job, runs, jobs))
            cmd = [
                sys.executable,
                "-m",
                "poolbench.bench.parallel",
                "--dataset", dataset,
                "--pooler", pooler,
                "--epochs", str(epochs),
                "--threads", str(threads),
                "--runs", ",".join(map(str, share)),
                "--ready", str(Path(tmp) / f"ready{job}"),
                "--go", str(go),
            ]  # fmt: skip
            if slots is not None:
                slot = slots[job]
                cmd += ["--device", slot.device]
                if slot.memory_fraction is not None:
                    cmd += ["--memory-fraction", str(slot.memory_fraction)]
            procs.append(
                subprocess.Popen(
                    cmd, env=_worker_env(threads), stdout=subprocess.PIPE, text=True
                )
            )
        deadline = time.time() + 600
        while not all((Path(tmp) / f"ready{j}").exists() for j in range(jobs)):
            if any(p.poll() not in (None, 0) for p in procs) or time.time() > deadline:
                for p in procs:
                    p.kill()
                raise PoolbenchError("a bench worker failed before its runs started")
            time.sleep(0.05)
        go_time = time.time()
        go.touch()
        outs = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
        if any(p.returncode for p in procs):
            raise PoolbenchError("a bench worker failed; rerun to see its error")
    return max(o["end"] for o in outs) - go_time


def measure_parallel(
    dataset: str = "mutag",
    pooler: str = "mincut",
    runs: int = 8,
    epochs: int = 20,
    device: str = "auto",
    concurrency: int = 4,
) -> list[ParallelRow]:
    """The CPU settings, or 1 and ``concurrency`` jobs on one GPU."""
    from poolbench.training.concurrency import plan_workers
    from poolbench.training.device import visible_gpus

    gpus = visible_gpus() if device != "cpu" else []
    if device.startswith("cuda") and not gpus:
        raise PoolbenchError(
            "--device cuda asked for but no GPU is visible; use --device auto or cpu"
        )
    rows: list[ParallelRow] = []
    if not gpus:
        for label, jobs, threads in SETTINGS:
            wall = run_setting(jobs, threads, runs, dataset, pooler, epochs)
            shown = "default" if threads == 0 else str(threads)
            rows.append(ParallelRow(label, jobs, shown, runs, wall, 0))
    else:
        for jobs in sorted({1, concurrency}):
            slots = plan_workers(jobs, "cuda:0", gpus, usable_cores(), threads=1)
            wall = run_setting(jobs, 1, runs, dataset, pooler, epochs, slots)
            label = f"{jobs} concurrent job{'s' * (jobs > 1)} on GPU 0"
            rows.append(ParallelRow(label, jobs, "1", runs, wall, 0, "cuda:0"))
    for row in rows:
        row.speedup_vs_1_job = rows[0].wall_sec / row.wall_sec
        row.runs_per_min = 60 * runs / row.wall_sec
    return rows


def _worker(argv: list[str]) -> None:
    """One job: load, signal ready, wait for go, train the given runs, print JSON."""
    parser = argparse.ArgumentParser(prog="poolbench.bench.parallel")
    for flag in ("--dataset", "--pooler", "--runs", "--ready", "--go"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--memory-fraction", type=float)
    args = parser.parse_args(argv)

    import torch

    from poolbench.bench.setup import build_experiment
    from poolbench.training.concurrency import WorkerSlot, apply_slot
    from poolbench.training.seeding import run_seed, seed_everything
    from poolbench.training.trainer import TrainerConfig, fit

    if args.threads > 0:
        apply_slot(WorkerSlot(args.device, args.threads, args.memory_fraction))
    device = torch.device(args.device)
    exp = build_experiment(args.dataset, args.pooler, [f"device={args.device}"])
    split = exp.splits()[0]
    cfg = TrainerConfig(
        **{
            **exp.trainer.__dict__,
            "max_epochs": args.epochs,
            "patience": args.epochs + 1,
        }
    )
    task = exp.task.for_split(split)  # its loss: classification or regression
    exp.packed_graphs()  # packing and precompute are not part of the sweep's time
    Path(args.ready).touch()
    while not Path(args.go).exists():
        time.sleep(0.01)
    start = time.time()
    for run in map(int, args.runs.split(",")):
        generator = seed_everything(run_seed(0, 0, run))
        model = exp.make_model(device)
        train = exp.loader(split.train, shuffle=True, generator=generator)
        val = exp.loader(split.val, shuffle=False, generator=None)
        fit(model, train, val, cfg, device, task=task)
    print(json.dumps({"start": start, "end": time.time()}))


if __name__ == "__main__":
    _worker(sys.argv[1:])
