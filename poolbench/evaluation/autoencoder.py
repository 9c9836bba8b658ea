"""Node-information preservation: MP → pool → lift → MP → reconstruct the features.

Grattarola et al. (2022): if a pooler keeps the information of the nodes, an
autoencoder that must pass through it can reconstruct the input. Here the
input is a point cloud's coordinates; the pooled features are lifted back to
the nodes with S (``S X'``; sparse poolers copy each supernode to its members,
dropped nodes get zeros), then MP on the original graph and a linear layer
give ``X̂``. The score is the MSE between ``X`` and ``X̂``.
"""

from __future__ import annotations

from time import perf_counter

import torch
import torch.nn.functional as F
from omegaconf import DictConfig
from torch import Tensor, nn

from poolbench.data.point_clouds import point_cloud
from poolbench.evaluation.connectivity import single_graph_components
from poolbench.evaluation.rows import EvalRow
from poolbench.evaluation.single_graph import (
    MPStack,
    PoolStep,
    artifact_path,
    build_pooler,
    fit_single_graph,
    seeded,
)
from poolbench.experiment import config_hash
from poolbench.pooling.base import Pooler, PoolOutput
from poolbench.pooling.lift import lift
from poolbench.pooling.registry import name_of
from poolbench.results.row import utc_now
from poolbench.training.device import resolve_device


class PoolAutoencoder(nn.Module):
    def __init__(self, in_channels: int, pooler: Pooler, mp: str, hidden: int, blocks):
        super().__init__()
        self.encoder = MPStack(mp, in_channels, hidden, blocks[0])
        self.pool = PoolStep(pooler)
        self.decoder = MPStack(mp, hidden, hidden, blocks[-1] if len(blocks) > 1 else 1)
        self.out = nn.Linear(hidden, in_channels)

    def forward(self, x, edge_index, batch) -> tuple[Tensor, PoolOutput]:
        h = self.encoder(x, edge_index)
        pooled = self.pool(h, edge_index, None, batch)
        h = lift(pooled.x, pooled)
        # The decoder runs on the original graph: only what survived pooling
        # (and its lifted copies) is there to rebuild X from.
        return self.out(self.decoder(h, edge_index)), pooled


def run_autoencoder(cfg: DictConfig, settings: DictConfig) -> list[EvalRow]:
    """Fit one autoencoder per point-cloud graph; one row per graph."""
    return [reconstruct_graph(cfg, settings, name) for name in settings.graphs]


def reconstruct_graph(cfg: DictConfig, settings: DictConfig, name: str) -> EvalRow:
    device = resolve_device(cfg.device)
    graph = point_cloud(name).to(device)
    seed = seeded(cfg, graph)
    start = perf_counter()
    x, edge_index = graph.x, graph.edge_index
    batch = torch.zeros(x.size(0), dtype=torch.long, device=device)
    m = cfg.model
    pooler = build_pooler(cfg, m.hidden, x.size(0))
    model = PoolAutoencoder(x.size(1), pooler, m.mp, m.hidden, list(m.blocks))
    model = model.to(device)

    def loss_of() -> Tensor:
        x_hat, pooled = model(x, edge_index, batch)
        aux = sum(pooled.aux_loss.values(), x.new_zeros(()))
        return F.mse_loss(x_hat, x) + aux

    fit = fit_single_graph(model, loss_of, settings.steps, cfg.trainer.lr)
    model.eval()
    with torch.no_grad():
        x_hat, pooled = model(x, edge_index, batch)
    pooler_name = name_of(type(pooler))
    torch.save(
        {"pos": x.cpu(), "edge_index": edge_index.cpu(), "x_hat": x_hat.cpu()},
        artifact_path(cfg.results.dir, "autoencoder", name, pooler_name),
    )
    return EvalRow(
        kind="autoencoder",
        pooler=pooler_name,
        graph=name,
        seed=seed,
        config_hash=config_hash(cfg),
        mse=float(F.mse_loss(x_hat, x)),
        params=sum(p.numel() for p in model.parameters()),
        k_over_n=pooled.x.size(0) / x.size(0),
        edges_kept=pooled.edge_index.size(1) / edge_index.size(1),
        **single_graph_components(edge_index, x.size(0), pooled),
        epochs=fit.steps,
        total_sec=perf_counter() - start,
        device=str(device),
        started_at=utc_now(),
    )
