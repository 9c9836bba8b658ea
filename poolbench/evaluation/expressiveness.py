"""Expressiveness: train on the EXPWL1-style set, then measure the three conditions.

Bianchi & Lachi (2023) show a pooled GNN is as expressive as 1-WL when (1) the
MP before pooling is 1-WL expressive, (2) every row of S sums to the same
constant (no node dropped or under-weighted) and (3) RED is ``SᵀX``. This
module trains their architecture with the existing protocol machinery (one
holdout split, :func:`~poolbench.training.protocol.train_once`), then reads S
off the trained pooler on the held-out graphs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from time import perf_counter

import torch
from omegaconf import DictConfig

from poolbench.evaluation.assignment import has_assignment, red_error, row_sums
from poolbench.evaluation.connectivity import components_per_graph
from poolbench.evaluation.rows import EvalRow
from poolbench.experiment import Experiment, load_dataset
from poolbench.models.mp import WL_EXPRESSIVE
from poolbench.results.row import utc_now
from poolbench.training.device import resolve_device
from poolbench.training.protocol import train_once
from poolbench.training.seeding import run_seed


@dataclass
class ConditionReport:
    """What the trained pooler did on held-out graphs."""

    rowsum_min: float = float("inf")
    rowsum_max: float = float("-inf")
    red_error: float = 0.0
    measurable: bool = True
    nodes_in: int = 0
    nodes_pooled: int = 0
    edges_in: int = 0
    edges_pooled: int = 0
    graphs: int = 0
    components_in: int = 0
    components_pooled: int = 0
    k_over_n: list[float] = field(default_factory=list)

    @property
    def rowsum_spread(self) -> float:
        if not self.measurable:
            return float("nan")
        return self.rowsum_max - self.rowsum_min

    def add(self, args: tuple, out) -> None:
        x, edge_index, _, batch = args
        num_graphs = int(batch.max()) + 1
        self.graphs += num_graphs
        nodes_in = torch.bincount(batch, minlength=num_graphs).float()
        nodes_out = torch.bincount(out.batch, minlength=num_graphs).float()
        self.k_over_n += (nodes_out / nodes_in.clamp_min(1)).tolist()
        self.edges_in += edge_index.size(1)
        self.edges_pooled += out.edge_index.size(1)
        before = components_per_graph(edge_index, batch, num_graphs)
        self.components_in += int(before.sum())
        self.components_pooled += int(
            components_per_graph(out.edge_index, out.batch, num_graphs).sum()
        )
        if not has_assignment(out):
            self.measurable = False
            return
        sums = row_sums(out, x.size(0))
        self.rowsum_min = min(self.rowsum_min, float(sums.min()))
        self.rowsum_max = max(self.rowsum_max, float(sums.max()))
        self.red_error = max(self.red_error, red_error(out, x, batch))


@torch.no_grad()
def measure_conditions(model, loader, device) -> ConditionReport:
    """Run the trained model on ``loader`` and record its first pooler's S."""
    report = ConditionReport()
    pooler = model.poolers[0]
    handle = pooler.register_forward_hook(lambda _m, args, out: report.add(args, out))
    model.eval()
    try:
        for batch in loader:
            batch = batch.to(device)
            model(
                batch.x,
                batch.edge_index,
                getattr(batch, "edge_weight", None),
                batch.batch,
                batch.num_graphs,
            )
    finally:
        handle.remove()
    return report


def verdict(wl_mp: bool, report: ConditionReport, rowsum_tol, red_tol) -> str:
    if not report.measurable:
        return "unknown (no S)"
    failed = []
    if not wl_mp:
        failed.append("MP")
    if not report.rowsum_spread <= rowsum_tol:
        failed.append("row sums")
    if not report.red_error <= red_tol:
        failed.append("RED")
    return "expressive" if not failed else "not: " + ", ".join(failed)


def report_every(epochs: int):
    """An epoch callback printing validation scores now and then (runs are long)."""
    import sys

    def on_epoch(epoch: int, record: dict) -> None:
        if (epoch + 1) % epochs == 0:
            print(
                f"  epoch {epoch + 1}: val_acc={record['val_acc']:.3f} "
                f"val_loss={record['val_loss']:.4f}",
                file=sys.stderr,
            )

    return on_epoch


def run_expressiveness(cfg: DictConfig, settings: DictConfig) -> list[EvalRow]:
    """Train one pooler on the expressiveness set; one row with the conditions."""
    device = resolve_device(cfg.device)
    dataset = load_dataset(cfg)
    exp = Experiment(cfg, dataset)
    split = exp.splits()[0]
    seed = run_seed(int(cfg.seed), 0, 0)
    row = EvalRow(
        kind="expressiveness",
        pooler=exp.pooler_name,
        graph=dataset.name,
        seed=seed,
        config_hash=exp.config_hash,
        device=str(device),
        started_at=utc_now(),
    )
    start = perf_counter()
    trained = train_once(exp, split, seed, device, on_epoch=report_every(100))
    model, fit, test = trained.model, trained.fit, trained.test
    test_loader = exp.loader(split.test, shuffle=False, generator=None)
    report = measure_conditions(model, test_loader, device)
    wl_mp = cfg.model.mp in WL_EXPRESSIVE
    row.test_acc, row.val_acc, row.epochs = test.acc, fit.val.acc, fit.epochs
    row.wl_mp = "yes" if wl_mp else "no"
    row.rowsum_spread = report.rowsum_spread
    row.red_error = report.red_error if report.measurable else float("nan")
    row.verdict = verdict(wl_mp, report, settings.rowsum_tol, settings.red_tol)
    row.params = sum(p.numel() for p in model.parameters())
    row.k_over_n = sum(report.k_over_n) / max(len(report.k_over_n), 1)
    row.edges_kept = report.edges_pooled / max(report.edges_in, 1)
    row.components_in = report.components_in / max(report.graphs, 1)
    row.components_pooled = report.components_pooled / max(report.graphs, 1)
    row.total_sec = perf_counter() - start
    return [row]
