"""Epoch throughput: a plain PyG training loop against poolbench's path.

Both train the same model (same seed, so the same initial weights) on the same
fold-0 train split for the same epochs with the same Adam and the same loss
(the task's: cross-entropy for classification, MSE on standardised targets for
regression), and run a validation pass after every epoch: the work of any
training loop with model selection. Graph-level datasets only: a node-level
dataset is one graph trained full batch, which ``scripts/bench.py node`` and
``community`` time instead.

- *plain* is the loop of PyG's examples: ``DataLoader(shuffle=True,
  batch_size=32)`` collating ``Data`` objects each step, ``float(loss)`` per
  step for logging. It runs with torch's default intra-op threads and tuned to
  one thread.
- *poolbench* is :func:`poolbench.training.trainer.fit` on the experiment's
  loaders: packed fast data, precomputed pooling for topology poolers, one
  thread, early stopping bookkeeping included.

The first epoch of each is a warm-up and is not timed. The overhead share comes
from a separate, instrumented pass of up to 6 epochs on each path
(:mod:`poolbench.bench.overhead`), its warm-up epoch left out too.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import torch
from torch_geometric.loader import DataLoader

from poolbench.bench.overhead import WorkTimers
from poolbench.experiment import Experiment
from poolbench.tasks.graph import GraphClassification, forward_graphs
from poolbench.training.device import PeakMemory, set_threads
from poolbench.training.seeding import seed_everything
from poolbench.training.trainer import TrainerConfig, fit

# torch's own choice, read before anything in this process changes it.
DEFAULT_THREADS = torch.get_num_threads()


@dataclass
class EpochRow:
    """One line of ``poolbench bench --json`` (exactly these keys)."""

    dataset: str
    pooler: str
    default_sec_per_epoch: float
    tuned_sec_per_epoch: float
    poolbench_sec_per_epoch: float
    speedup_vs_default: float
    speedup_vs_tuned: float
    overhead_share: float
    peak_mem_mb: float


@dataclass
class EpochDetail:
    """What the table shows beyond the JSON row."""

    row: EpochRow
    tuned_overhead_share: float
    plain_peak_mem_mb: float
    precompute_sec: float
    threads_default: int


def mean_after_warmup(laps: list[float]) -> float:
    """Mean epoch seconds; the first epoch is a warm-up."""
    timed = laps[1:] or laps
    return sum(timed) / len(timed)


def _laps(stamps: list[float]) -> list[float]:
    """Epoch seconds from epoch-end timestamps (``stamps[0]`` is the start)."""
    return [b - a for a, b in zip(stamps, stamps[1:])]


class _Enough(Exception):
    """Raised from fit's epoch callback once the runner has used its time."""


def _plain_val_step(task, out, batch) -> float:
    """What the plain loop's validation pass reads from one batch, synced to
    the host as PyG's examples do: correct predictions for classification,
    the squared error (standardised) for regression."""
    if isinstance(task, GraphClassification):
        return int((out.logits.argmax(-1) == batch.y.view(-1)).sum())
    pred = out.logits
    return float((pred - task._standard(batch.y, pred)).pow(2).sum())


def plain_loop(exp: Experiment, split, epochs: int, seed: int, timers=None) -> float:
    """The PyG-example training loop; returns seconds per epoch. Its loss is
    the task's (cross-entropy, or MSE on standardised regression targets)."""
    cpu = torch.device("cpu")
    task = exp.task.for_split(split)
    generator = seed_everything(seed)
    model = exp.make_model(cpu)
    cfg = exp.trainer
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    graphs = exp.dataset.graphs
    train = DataLoader(
        [graphs[i] for i in split.train],
        batch_size=cfg.batch_size,
        shuffle=True,
        generator=generator,
    )
    val = DataLoader([graphs[i] for i in split.val], batch_size=cfg.batch_size)
    if timers is not None:
        timers.attach(model)
    stamps = [time.perf_counter()]
    for _ in range(epochs):
        model.train()
        total_loss = 0.0
        for batch in train:
            opt.zero_grad()
            out = forward_graphs(model, batch)
            loss = task.loss(out, batch)
            loss.backward()
            opt.step()
            total_loss += float(loss.detach()) * batch.num_graphs
        model.eval()
        score = 0.0
        with torch.no_grad():
            for batch in val:
                out = forward_graphs(model, batch)
                score += _plain_val_step(task, out, batch)
        stamps.append(time.perf_counter())
        if timers is not None and len(stamps) == 2:
            timers.restart()  # the warm-up epoch is not timed
    return mean_after_warmup(_laps(stamps))


def runner_laps(
    exp: Experiment, split, epochs: int, seed: int, timers=None, max_sec=math.inf
) -> tuple[list[float], float]:
    """:func:`fit` on the experiment's loaders for ``epochs`` epochs (no early
    stop; validation included): each epoch's seconds and the precompute
    seconds. ``timers`` skip the warm-up epoch; past ``max_sec`` (after at
    least two epochs) the run stops early."""
    cpu = torch.device("cpu")
    exp.take_precompute_sec()
    generator = seed_everything(seed)
    model = exp.make_model(cpu)
    train = exp.loader(split.train, shuffle=True, generator=generator)
    val = exp.loader(split.val, shuffle=False, generator=None)
    precompute = exp.take_precompute_sec()
    cfg = TrainerConfig(
        **{**asdict(exp.trainer), "max_epochs": epochs, "patience": epochs + 1}
    )
    if timers is not None:
        timers.attach(model)
    stamps = [time.perf_counter()]

    def on_epoch(*_):
        stamps.append(time.perf_counter())
        if timers is not None and len(stamps) == 2:
            timers.restart()  # the warm-up epoch is not timed
        if len(stamps) > 2 and stamps[-1] - stamps[0] > max_sec:
            raise _Enough

    try:
        fit(model, train, val, cfg, cpu, on_epoch, exp.task.for_split(split))
    except _Enough:
        pass
    return _laps(stamps), precompute


def poolbench_loop(
    exp: Experiment, split, epochs: int, seed: int, timers=None
) -> tuple[float, float]:
    """:func:`fit` on the experiment's loaders; seconds per epoch, precompute s."""
    laps, precompute = runner_laps(exp, split, epochs, seed, timers)
    return mean_after_warmup(laps), precompute


def overhead_share(run, exp, split, epochs, seed) -> float:
    """1 - (forward + backward + optimizer step) / wall, timed on ``run``."""
    with WorkTimers(torch.device("cpu")) as timers:
        run(exp, split, epochs, seed, timers)
    return timers.overhead_share()


def measure_epochs(exp: Experiment, epochs: int, seed: int = 0) -> EpochDetail:
    """Time one (dataset, pooler) pair on the CPU, same seed for every path."""
    split = exp.splits()[0]
    memory = PeakMemory(torch.device("cpu"))
    epochs = max(2, epochs)

    set_threads(DEFAULT_THREADS)
    default = plain_loop(exp, split, epochs, seed)
    set_threads(1)
    memory.reset()
    tuned = plain_loop(exp, split, epochs, seed)
    plain_peak = memory.peak_mb()
    memory.reset()
    fast, precompute = poolbench_loop(exp, split, epochs, seed)
    peak = memory.peak_mb()
    work_epochs = min(epochs, 6)
    row = EpochRow(
        dataset=exp.dataset.name,
        pooler=exp.pooler_name,
        default_sec_per_epoch=default,
        tuned_sec_per_epoch=tuned,
        poolbench_sec_per_epoch=fast,
        speedup_vs_default=default / fast,
        speedup_vs_tuned=tuned / fast,
        overhead_share=overhead_share(
            lambda *a: poolbench_loop(*a)[0], exp, split, work_epochs, seed
        ),
        peak_mem_mb=peak,
    )
    return EpochDetail(
        row=row,
        tuned_overhead_share=overhead_share(plain_loop, exp, split, work_epochs, seed),
        plain_peak_mem_mb=plain_peak,
        precompute_sec=precompute,
        threads_default=DEFAULT_THREADS,
    )


def geomean(values: list[float]) -> float:
    values = [v for v in values if v > 0 and math.isfinite(v)]
    if not values:
        return float("nan")
    return math.exp(sum(math.log(v) for v in values) / len(values))
