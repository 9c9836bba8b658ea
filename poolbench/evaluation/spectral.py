"""Topology preservation: spectral similarity of the pooled graph (Loukas 2019).

As in the SRC paper (Grattarola et al. 2022), MP + pool are trained to
minimise

.. math::
    \\mathcal{L} = \\sum_{i=1}^{D} (x_i^\\top L x_i - x_i'^\\top L' x_i')^2

where the :math:`x_i` are the first ``D`` eigenvectors of the combinatorial
Laplacian ``L = D - A`` of the input graph, :math:`x_i'` their pooled versions
(the pooler's RED applied to them, see
:func:`~poolbench.evaluation.assignment.pooled_signal`) and ``L'`` the
Laplacian of the pooled graph. Zero means the pooled graph keeps the
smoothness of the input's low-frequency signals.
"""

from __future__ import annotations

from time import perf_counter

import torch
from omegaconf import DictConfig
from torch import Tensor, nn
from torch_geometric.utils import to_dense_adj

from poolbench.data.point_clouds import point_cloud
from poolbench.evaluation.assignment import pooled_signal
from poolbench.evaluation.connectivity import single_graph_components
from poolbench.evaluation.rows import EvalRow
from poolbench.evaluation.single_graph import (
    MPStack,
    PoolStep,
    artifact_path,
    build_pooler,
    edges_of,
    fit_single_graph,
    seeded,
)
from poolbench.experiment import config_hash
from poolbench.pooling.base import Pooler, PoolOutput
from poolbench.pooling.registry import name_of
from poolbench.results.row import utc_now
from poolbench.training.device import resolve_device


def laplacian(edge_index: Tensor, edge_weight: Tensor | None, num_nodes: int) -> Tensor:
    """Dense ``L = D − A`` ``[N, N]``; self-loops cancel out of it."""
    adj = to_dense_adj(edge_index, edge_attr=edge_weight, max_num_nodes=num_nodes)[0]
    return torch.diag(adj.sum(dim=1)) - adj


def low_eigenvectors(lap: Tensor, count: int) -> Tensor:
    """The ``count`` eigenvectors of the smallest eigenvalues ``[N, count]``."""
    _, vectors = torch.linalg.eigh(lap)
    return vectors[:, : min(count, lap.size(0))]


def spectral_loss(lap: Tensor, u: Tensor, lap_pooled: Tensor, u_pooled: Tensor):
    """Σ_i (u_iᵀ L u_i − u'_iᵀ L' u'_i)² over the columns of ``u``."""
    energy = (u * (lap @ u)).sum(dim=0)
    energy_pooled = (u_pooled * (lap_pooled @ u_pooled)).sum(dim=0)
    return ((energy - energy_pooled) ** 2).sum()


def pooled_loss(out: PoolOutput, lap: Tensor, u: Tensor, batch: Tensor, reduce="sum"):
    """The spectral loss of one pooled single graph."""
    u_pooled = pooled_signal(out, u, batch, reduce)
    edge_index, weight = edges_of(out)
    lap_pooled = laplacian(edge_index, weight, out.x.size(0))
    return spectral_loss(lap, u, lap_pooled, u_pooled)


class SpectralModel(nn.Module):
    def __init__(self, in_channels: int, pooler: Pooler, mp: str, hidden: int, depth):
        super().__init__()
        self.encoder = MPStack(mp, in_channels, hidden, depth)
        self.pool = PoolStep(pooler)

    def forward(self, x, edge_index, batch) -> PoolOutput:
        return self.pool(self.encoder(x, edge_index), edge_index, None, batch)


def run_spectral(cfg: DictConfig, settings: DictConfig) -> list[EvalRow]:
    """Fit MP + pool per point-cloud graph for spectral similarity; one row each."""
    return [coarsen_graph(cfg, settings, name) for name in settings.graphs]


def coarsen_graph(cfg: DictConfig, settings: DictConfig, name: str) -> EvalRow:
    device = resolve_device(cfg.device)
    graph = point_cloud(name).to(device)
    seed = seeded(cfg, graph)
    start = perf_counter()
    x, edge_index = graph.x, graph.edge_index
    n = x.size(0)
    batch = torch.zeros(n, dtype=torch.long, device=device)
    lap = laplacian(edge_index, None, n)
    u = low_eigenvectors(lap, settings.eigenvectors)
    m = cfg.model
    pooler = build_pooler(cfg, m.hidden, n)
    reduce = getattr(pooler, "reduce", "sum")
    model = SpectralModel(x.size(1), pooler, m.mp, m.hidden, m.blocks[0]).to(device)

    def loss_of() -> Tensor:
        out = model(x, edge_index, batch)
        aux = sum(out.aux_loss.values(), x.new_zeros(()))
        return pooled_loss(out, lap, u, batch, reduce) + aux

    fit = fit_single_graph(model, loss_of, settings.steps, cfg.trainer.lr)
    model.eval()
    with torch.no_grad():
        out = model(x, edge_index, batch)
        loss = pooled_loss(out, lap, u, batch, reduce)
    pooler_name = name_of(type(pooler))
    save_pooled_graph(cfg.results.dir, name, pooler_name, graph, out)
    return EvalRow(
        kind="spectral",
        pooler=pooler_name,
        graph=name,
        seed=seed,
        config_hash=config_hash(cfg),
        spectral_loss=float(loss),
        params=sum(p.numel() for p in model.parameters()),
        k_over_n=out.x.size(0) / n,
        edges_kept=out.edge_index.size(1) / edge_index.size(1),
        **single_graph_components(edge_index, n, out),
        epochs=fit.steps,
        total_sec=perf_counter() - start,
        device=str(device),
        started_at=utc_now(),
    )


def save_pooled_graph(results_dir, name, pooler, graph, out: PoolOutput) -> None:
    """A and A' with positions, for the figure: supernodes at their members' mean."""
    from poolbench.evaluation.assignment import membership

    s = membership(out, graph.num_nodes)
    weights = s / s.sum(dim=0, keepdim=True).clamp_min(1e-12)
    edge_index, weight = edges_of(out)
    torch.save(
        {
            "pos": graph.pos.cpu(),
            "edge_index": graph.edge_index.cpu(),
            "pooled_pos": (weights.T @ graph.pos).cpu(),
            "pooled_edge_index": edge_index.cpu(),
            "pooled_edge_weight": weight.cpu(),
        },
        artifact_path(results_dir, "spectral", name, pooler),
    )
