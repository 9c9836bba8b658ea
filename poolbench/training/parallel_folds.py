"""Outer folds of one experiment in parallel worker processes (``protocol.n_jobs``).

Workers are spawned, not forked: a forked child would inherit torch's thread
pools and any CUDA context of the parent, which break or deadlock. Each worker
rebuilds the experiment from the resolved config and the pickled dataset, runs
``trainer.threads`` torch threads (cores / n_jobs when 0), and writes its rows
itself through ``on_row`` (the store's locked append), so a killed parent loses
no finished run. Seeds depend on (fold, run) only, hence the rows match a
sequential run's. Hooks that mark themselves ``runs_in_worker`` (the W&B sink:
it sets ``row.wandb_id``, which must be in the row before it is written) go to
the workers and hear of each run as it starts, trains and ends, as in a
sequential run; the others (the progress display) stay in the parent and hear
of each run when its fold ends.

On CUDA the folds share the GPU(s): :func:`~poolbench.training.concurrency.
plan_workers` spreads them over the visible GPUs and caps each process's share
of its GPU's memory, so ``protocol.n_jobs=4`` runs four folds at once on one
GPU. Without a GPU the same plan is all CPU slots.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

from omegaconf import OmegaConf

from poolbench.errors import PoolbenchError, StoreWriteError
from poolbench.results.row import ResultRow


def _start_worker(parallel_jobs: int) -> None:
    os.environ["POOLBENCH_PARALLEL_JOBS"] = str(parallel_jobs)


def split_hooks(hooks) -> tuple[list, list]:
    """``(in the workers, in the parent)``: the parts of ``hooks`` (a
    :class:`~poolbench.training.progress.Hooks` fan-out, or one hook object)
    that mark themselves ``runs_in_worker``, and the others."""
    if hooks is None:
        return [], []
    parts = list(getattr(hooks, "hooks", [hooks]))
    in_worker = [h for h in parts if getattr(h, "runs_in_worker", False)]
    return in_worker, [h for h in parts if h not in in_worker]


def _fold_worker(
    cfg_dict,
    dataset,
    protocol,
    job,
    split,
    slot,
    provenance,
    on_row,
    selection,
    worker_hooks,
    claims,
):
    import torch

    from poolbench.experiment import Experiment
    from poolbench.training.concurrency import apply_slot
    from poolbench.training.progress import Hooks
    from poolbench.training.protocol import FailFast, run_fold
    from poolbench.training.signals import stop_on_signals

    device = torch.device(apply_slot(slot))
    exp = Experiment(OmegaConf.create(cfg_dict), dataset)
    hooks = Hooks(*worker_hooks) if worker_hooks else None
    try:
        # Slurm signals every process of the job: workers record their runs too.
        with stop_on_signals():
            return run_fold(
                exp, protocol, job, split, device, provenance, on_row, hooks,
                selection, claims,
            )  # fmt: skip
    except (PoolbenchError, FailFast, StoreWriteError):
        raise
    except BaseException as exc:  # exotic exceptions may not unpickle in the parent
        raise RuntimeError(f"fold {job.fold}: {type(exc).__name__}: {exc}") from None


def run_folds_in_processes(
    exp, protocol, jobs, splits, device, provenance, on_row, hooks, selection=None,
    claims=None,
) -> list[ResultRow]:  # fmt: skip
    """Run one fold per job in ``protocol.n_jobs`` processes; rows in fold order."""
    from poolbench.training.concurrency import plan_workers
    from poolbench.training.device import run_threads, usable_cores, visible_gpus

    workers = min(protocol.n_jobs, len(jobs))
    worker_hooks, parent_hooks = split_hooks(hooks)
    outer = max(1, int(os.environ.get("POOLBENCH_PARALLEL_JOBS", "1")))
    cfg_dict = OmegaConf.to_container(exp.cfg, resolve=True)
    if device.type == "cuda":
        name = "cuda" if device.index is None else f"cuda:{device.index}"
        gpus = visible_gpus()
    else:
        name, gpus = "cpu", []
    slots = plan_workers(
        workers,
        name,
        gpus,
        max(1, usable_cores() // outer),
        # as many threads as the parent's runs get (the folds left to do may
        # be fewer than n_jobs): one count for every run of the experiment
        run_threads(int(cfg_dict["trainer"]["threads"]), protocol.n_jobs),
    )
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(outer * workers,),
    )
    by_fold: dict[int, list[ResultRow]] = {}
    try:
        pending = {
            pool.submit(
                _fold_worker,
                cfg_dict,
                exp.dataset,
                protocol,
                job,
                splits[job.fold],
                slots[i % workers],
                provenance,
                on_row,
                selection,
                worker_hooks,
                claims,
            ): job
            for i, job in enumerate(jobs)
        }
        while pending:
            finished, _ = wait(pending, return_when=FIRST_EXCEPTION)
            for future in finished:
                job = pending.pop(future)
                rows = future.result()  # re-raises a worker's error here
                by_fold[job.fold] = rows
                for row in rows:  # the progress display, once the fold is done
                    for hook in parent_hooks:
                        hook.run_started(row)
                        hook.run_finished(row)
                if len(rows) < len(job.runs):  # left to another command
                    for hook in parent_hooks:
                        if hasattr(hook, "runs_skipped"):
                            hook.runs_skipped(len(job.runs) - len(rows))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [row for fold in sorted(by_fold) for row in by_fold[fold]]
