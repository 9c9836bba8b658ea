"""``poolbench bench --peer tgp``: poolbench against the reference library.

For every pooler both libraries have, the same data, split (holdout fold 0),
model shape (``model.blocks=[1,1]``: GIN -> pool -> GIN -> sum -> MLP), batch
size, optimiser and number of epochs run twice: tgp's pooler in the plain loop
of :mod:`poolbench.bench.peer_tgp`, and poolbench's runner (:func:`fit` on the
experiment's loaders: packed data, precomputed topologies). Each epoch on both
sides is a training pass plus a validation pass, so the same work is counted.
The first epoch of each is a warm-up.

The machine's noise is large, so only interleaved, repeated ratios mean
anything: the two sides alternate pooler by pooler (tgp first on even
repeats, poolbench first on odd ones) and the ratio kept is the median over
``repeats`` of the per-repeat ratios. A side slower than ``max_side_sec``
stops early (after at least one timed epoch); its row says how many epochs
each side timed.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from poolbench.bench.epochs import geomean, mean_after_warmup, runner_laps
from poolbench.bench.peer_tgp import SHARED, import_tgp, tgp_loop, unavailable
from poolbench.bench.setup import build_experiment
from poolbench.hydra_app import check_choices
from poolbench.training.device import set_threads

PEER_OVERRIDES = ["model.blocks=[1,1]", "protocol=holdout"]


@dataclass
class PeerRow:
    """One line of ``poolbench bench --peer tgp --json``."""

    dataset: str
    pooler: str
    tgp_sec_per_epoch: float  # median over repeats
    poolbench_sec_per_epoch: float  # median over repeats
    speedup_vs_tgp: float  # median over repeats of tgp / poolbench
    parameter_free: bool
    ratios: list[float] = field(default_factory=list)  # one per repeat
    tgp_epochs: int = 0  # timed epochs per repeat (warm-up excluded)
    poolbench_epochs: int = 0
    poolbench_precompute_sec: float = 0.0  # one-off, not in sec/epoch


@dataclass
class Skipped:
    dataset: str
    pooler: str
    reason: str


def is_parameter_free(exp) -> bool:
    """A real pooler with nothing to learn (the identity ``none`` is not one)."""
    cls = exp.pooler_class
    return not cls.trainable and cls.family not in ("none", "control")


def shared_poolers(requested: list[str] | None) -> list[str]:
    """Poolers both libraries have (poolbench's registry x the tgp map)."""
    from poolbench.pooling.registry import available

    if requested is not None:
        return requested
    return [p for p in available() if p in SHARED]


def measure_peer(
    datasets: list[str],
    poolers: list[str] | None,
    epochs: int,
    repeats: int,
    seed: int = 0,
    max_side_sec: float = 60.0,
    progress: Callable[[str], None] = lambda _: None,
) -> tuple[list[PeerRow], list[Skipped]]:
    """Time every (dataset, shared pooler) pair on both sides; 1 thread each."""
    import_tgp()  # fail before any work when tgp is missing
    names = shared_poolers(poolers)
    check_choices("dataset", datasets)
    check_choices("pooler", names)
    set_threads(1)
    rows: list[PeerRow] = []
    skipped: list[Skipped] = []
    for dataset in datasets:
        exps = {}
        for name in names:
            exp = build_experiment(dataset, name, [f"seed={seed}", *PEER_OVERRIDES])
            why = unavailable(name)
            if why is not None:
                skipped.append(Skipped(exp.dataset.name, name, why))
                continue
            exps[name] = exp
        tgp_laps = {n: [] for n in exps}
        pb_laps = {n: [] for n in exps}
        precompute = dict.fromkeys(exps, 0.0)
        for rep in range(repeats):
            for name, exp in exps.items():
                split = exp.splits()[0]
                sides = ["tgp", "poolbench"] if rep % 2 == 0 else ["poolbench", "tgp"]
                for side in sides:
                    progress(f"{exp.dataset.name} × {name}: {side} (repeat {rep + 1})")
                    if side == "tgp":
                        laps = tgp_loop(exp, name, split, epochs, seed, max_side_sec)
                        tgp_laps[name].append(laps)
                    else:
                        laps, pre = runner_laps(
                            exp, split, epochs, seed, max_sec=max_side_sec
                        )
                        pb_laps[name].append(laps)
                        precompute[name] = max(precompute[name], pre)
        for name, exp in exps.items():
            tgp_sec = [mean_after_warmup(laps) for laps in tgp_laps[name]]
            pb_sec = [mean_after_warmup(laps) for laps in pb_laps[name]]
            ratios = [t / p for t, p in zip(tgp_sec, pb_sec)]
            rows.append(
                PeerRow(
                    dataset=exp.dataset.name,
                    pooler=name,
                    tgp_sec_per_epoch=statistics.median(tgp_sec),
                    poolbench_sec_per_epoch=statistics.median(pb_sec),
                    speedup_vs_tgp=statistics.median(ratios),
                    parameter_free=is_parameter_free(exp),
                    ratios=ratios,
                    tgp_epochs=min(len(laps) for laps in tgp_laps[name]) - 1,
                    poolbench_epochs=min(len(laps) for laps in pb_laps[name]) - 1,
                    poolbench_precompute_sec=precompute[name],
                )
            )
    return rows, skipped


def summary(rows: list[PeerRow]) -> list[str]:
    """Geometric means per dataset and overall, and the goal's two bars."""
    lines = []
    for dataset in dict.fromkeys(r.dataset for r in rows):
        mine = [r for r in rows if r.dataset == dataset]
        ratios = [r.speedup_vs_tgp for r in mine]
        free = [r.speedup_vs_tgp for r in mine if r.parameter_free]
        line = (
            f"{dataset}: geometric mean {geomean(ratios):.2f}x over {len(mine)} "
            f"poolers, min {min(ratios):.2f}x"
        )
        if free:
            line += f"; parameter-free min {min(free):.2f}x"
        lines.append(line)
    all_ratios = [r.speedup_vs_tgp for r in rows]
    if all_ratios:
        lines.append(f"overall: geometric mean {geomean(all_ratios):.2f}x")
    return lines
