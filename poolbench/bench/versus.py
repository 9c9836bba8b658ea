"""``poolbench bench --versus none``: what a pooler costs over no pooling.

Each pooler runs in poolbench's runner (:func:`~poolbench.bench.epochs.poolbench_loop`:
``fit`` on the experiment's loaders, a validation pass per epoch) against the
same runner with ``pooler=none``: same dataset, fold-0 split, default model
(``none`` keeps the same MP layers), seed and epochs, 1 thread. The two
alternate (``none`` first on even repeats) and the ratio kept is the median of
the per-repeat ratios, since only side-by-side ratios mean anything on a
shared machine. The first epoch of each run is a warm-up.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from poolbench.bench.epochs import poolbench_loop
from poolbench.bench.setup import build_experiment
from poolbench.training.device import set_threads


@dataclass
class VersusRow:
    """One line of ``poolbench bench --versus none --json``."""

    dataset: str
    pooler: str
    sec_per_epoch: float  # median over repeats
    none_sec_per_epoch: float  # median over repeats
    times_none: float  # median over repeats of pooler / none
    ratios: list[float] = field(default_factory=list)  # one per repeat


def measure_versus(
    datasets: list[str],
    poolers: list[str],
    epochs: int,
    repeats: int,
    seed: int = 0,
    progress: Callable[[str], None] = lambda text: None,
) -> list[VersusRow]:
    set_threads(1)
    overrides = [f"seed={seed}"]
    rows = []
    for dataset in datasets:
        baseline = build_experiment(dataset, "none", overrides)
        split = baseline.splits()[0]
        for pooler in poolers:
            exp = build_experiment(dataset, pooler, overrides)
            progress(f"{exp.dataset.name} × {pooler} against none")
            times, base, ratios = [], [], []
            for repeat in range(repeats):
                order = [baseline, exp] if repeat % 2 == 0 else [exp, baseline]
                sec = {id(e): poolbench_loop(e, split, epochs, seed)[0] for e in order}
                times.append(sec[id(exp)])
                base.append(sec[id(baseline)])
                ratios.append(sec[id(exp)] / sec[id(baseline)])
            rows.append(
                VersusRow(
                    dataset=exp.dataset.name,
                    pooler=pooler,
                    sec_per_epoch=statistics.median(times),
                    none_sec_per_epoch=statistics.median(base),
                    times_none=statistics.median(ratios),
                    ratios=ratios,
                )
            )
    return rows
