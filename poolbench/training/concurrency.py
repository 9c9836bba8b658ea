"""Several runs at once on one machine: which device, threads and GPU memory each gets.

One small GNN leaves a large GPU nearly idle: a PROTEINS batch is a few
thousand nodes, so kernels are tiny and launch-bound. Throughput then comes
from running several runs (folds of one experiment, jobs of a sweep) side by
side as processes on the same GPU, each with its own CUDA context and a cap on
its share of the GPU memory, so one run that grows cannot starve the others
(the cap turns that into an out-of-memory row for that run alone).

:func:`plan_workers` is the whole policy and is pure, so it is tested on any
machine; :func:`apply_slot` carries a slot out inside a worker process. On a
machine without GPUs every slot is a CPU slot: the same processes, one share
of the cores each, and nothing CUDA is touched (the clean CPU fallback).

Measured so far on the CPU only; no GPU figure exists yet (none was lent).
"""

from __future__ import annotations

from dataclasses import dataclass

# Share of each GPU's memory the concurrent runs may take together; the rest
# is left to the CUDA contexts themselves and to other users of the GPU.
GPU_MEMORY_SHARE = 0.9


@dataclass(frozen=True)
class WorkerSlot:
    """Where one concurrent worker runs."""

    device: str  # "cpu" or "cuda:<i>"
    threads: int  # torch intra-op threads
    memory_fraction: float | None = None  # of its GPU's memory; None on the CPU


def plan_workers(
    workers: int, device: str, gpus: list[str], cores: int, threads: int = 0
) -> list[WorkerSlot]:
    """Slots for ``workers`` concurrent processes.

    Args:
        workers: how many run at once.
        device: ``cpu``, ``auto``, ``cuda`` or ``cuda:<i>`` (the run's setting).
        gpus: the GPUs visible here (``visible_gpus()``); may be empty.
        cores: usable CPU cores.
        threads: ``trainer.threads``; 0 shares the cores out.

    ``auto`` and ``cuda`` spread the workers round-robin over the visible GPUs;
    ``cuda:<i>`` puts them all on GPU i. Each GPU's memory is split evenly
    among the workers on it. Without a GPU ``auto`` falls back to the CPU.
    """
    if workers < 1:
        raise ValueError("workers must be ≥ 1")
    per_worker = threads if threads > 0 else max(1, cores // workers)
    if device == "cpu" or (device == "auto" and not gpus):
        return [WorkerSlot("cpu", per_worker) for _ in range(workers)]
    if device.startswith("cuda:"):
        indices = [int(device.split(":", 1)[1])] * workers
    elif gpus:
        # local indices: CUDA_VISIBLE_DEVICES renumbers the visible GPUs 0..G-1
        indices = [w % len(gpus) for w in range(workers)]
    else:
        raise ValueError("device=cuda asked for but no GPU is visible")
    sharing = {i: indices.count(i) for i in set(indices)}
    return [
        WorkerSlot(f"cuda:{i}", per_worker, GPU_MEMORY_SHARE / sharing[i])
        for i in indices
    ]


def apply_slot(slot: WorkerSlot) -> str:
    """Set up this process for ``slot``; returns the device to run on.

    Call it in the worker before any CUDA work. On a CPU slot nothing CUDA is
    touched.
    """
    from poolbench.training.device import set_threads

    set_threads(slot.threads)
    if slot.memory_fraction is not None:
        import torch

        index = int(slot.device.split(":", 1)[1])
        torch.cuda.set_device(index)
        torch.cuda.set_per_process_memory_fraction(slot.memory_fraction, index)
    return slot.device
