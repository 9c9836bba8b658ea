"""What a full table costs: a sweep's wall time projected before it runs.

Each job (pooler x dataset) gets a cost per epoch, from the results store when
runs of its config already finished there, otherwise measured: two epochs of
the real trainer, with the job's own task (its loss, its validation pass and
its loaders, as ``poolbench train`` builds them), the first epoch a warm-up.
A graph-level task trains on a seeded sample of the fold-0 training and
validation graphs (in the split's proportions), scaled to the full split by
graph count; a node or community task trains on its one whole graph, so its
epoch is measured as it is. A job whose dense pooler cannot fit costs nothing
(its runs become oom rows at once), nor does a clustering baseline, which
trains no epochs.

Early stopping makes the number of epochs unknown in advance, so the
projection is a range: every run stopping as early as the patience allows
(``patience + 1`` epochs) up to every run going to ``max_epochs``, plus a
typical figure when the store knows how many epochs finished runs took. Jobs
are spread over the parallel workers longest first (LPT), which gives the
sweep's makespan. One-off costs (interpreter start, data loading, precompute,
test passes) are left out, so the real time runs somewhat above.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass

import torch

from poolbench.tasks.graph import GraphLevel
from poolbench.training.protocol import dense_memory_verdict
from poolbench.training.seeding import seed_everything
from poolbench.training.trainer import TrainerConfig, fit


@dataclass
class JobCost:
    """What one job of a sweep will cost, per epoch and in runs."""

    pooler: str
    dataset: str
    runs: int  # final runs still to do
    sec_per_epoch: float
    source: str  # "store", "measured", "oom", "untrained" or "over_cap"
    stored_epochs: float | None = None  # mean epochs of its finished runs
    precompute_sec: float = 0.0  # paid (or read from the cache) by the calibration


@dataclass
class Projection:
    low_sec: float
    high_sec: float
    typical_sec: float | None


def makespan(costs: list[float], workers: int) -> float:
    """Wall time of independent jobs on ``workers``, longest first (LPT)."""
    loads = [0.0] * max(1, workers)
    for cost in sorted(costs, reverse=True):
        loads[loads.index(min(loads))] += cost
    return max(loads)


def project(
    jobs: list[JobCost], patience: int, max_epochs: int, workers: int
) -> Projection:
    """The range of wall times for ``jobs`` (see the module docstring)."""
    low_epochs = min(max_epochs, patience + 1)

    def wall(epochs_of) -> float:
        return makespan(
            [j.runs * epochs_of(j) * j.sec_per_epoch for j in jobs], workers
        )

    known = [j.stored_epochs for j in jobs if j.stored_epochs is not None]
    typical = None
    if known:
        fallback = sum(known) / len(known)
        typical = wall(
            lambda j: j.stored_epochs if j.stored_epochs is not None else fallback
        )
    return Projection(wall(lambda j: low_epochs), wall(lambda j: max_epochs), typical)


def measure_sec_per_epoch(exp, device: torch.device, sample: int = 64) -> JobCost:
    """Seconds per epoch of ``exp``'s runs, from two epochs of its task."""
    name = (exp.pooler_name, exp.dataset.name)
    if dense_memory_verdict(exp, device):
        return JobCost(*name, 0, 0.0, "oom")
    if not exp.task.trains(exp):  # a clustering baseline: scored, never trained
        return JobCost(*name, 0, 0.0, "untrained")
    split = exp.splits()[0]
    # as train_once: the task as the fold sees it (a regression's target scale)
    task = exp.task.for_split(split)
    scale = 1.0
    if isinstance(task, GraphLevel):
        rng = random.Random(0)
        n_train = min(sample, len(split.train))
        share = len(split.val) / max(len(split.train), 1)
        n_val = min(len(split.val), max(1, round(n_train * share)))
        train_ids = rng.sample(list(split.train), n_train)
        val_ids = rng.sample(list(split.val), n_val)
        scale = (len(split.train) + len(split.val)) / (n_train + n_val)
    generator = seed_everything(0)
    model = exp.make_model(device)
    if isinstance(task, GraphLevel):
        train = exp.loader(train_ids, shuffle=True, generator=generator)
        val = exp.loader(val_ids, shuffle=False, generator=None)
    else:  # one whole graph: an epoch is one full-graph step, nothing to sample
        train, val, _ = exp.fold_loaders(split, generator)
    # A one-off, paid here and cached on disk, so the sweep reads it back.
    precompute = exp.take_precompute_sec()
    cfg = TrainerConfig(**{**asdict(exp.trainer), "max_epochs": 2, "patience": 3})
    stamps = [time.perf_counter()]
    on_epoch = lambda *_: stamps.append(time.perf_counter())  # noqa: E731
    fit(model, train, val, cfg, device, on_epoch, task)
    seconds = stamps[2] - stamps[1]
    return JobCost(*name, 0, seconds * scale, "measured", None, precompute)


def format_duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
