"""MaxCutPool (Abate & Bianchi 2025), in core torch and PyG layers.

Paper: https://arxiv.org/abs/2409.05100

- SEL: a score network (``Linear`` -> GCNConv layers on the heterophilic
  propagation ``P = I - delta * L_sym`` with ``tanh`` -> ReLU MLP -> ``tanh``)
  gives ``z`` ``[N]`` in ``[-1, 1]``; keep the ``ceil(ratio * N)`` top-scored
  nodes of each graph. Every dropped node then joins a kept node: for up to
  ``max_iter`` hops, an unassigned node takes the supernode most frequent among
  its already-assigned in-neighbours (ties: the higher-scored supernode).
  Supernodes are ordered by the node index of their kept node, ``[K_total]``.
- RED: ``X'_k = sum_{i in k} z_i X_i`` ``[K_total, F]`` (with
  ``assign_all_nodes=False``: ``X' = X[idx] * z[idx]``).
- CON: ``A' = S^T A S`` for the full one-hot assignment ``S`` ``[N, K]``,
  self-loops removed, weights divided by their per-graph maximum.
- Aux loss ``maxcut``: ``mean_graphs z^T A z / vol(A)`` (``vol = 1`` for a
  graph with no edges), weighted by ``loss_coeff``; minimising it puts
  adjacent nodes on opposite sides of the cut.

Matches tgp's MaxCutPooling (same layers, loss, tie-breaking and defaults)
except for nodes still unassigned after ``max_iter`` hops (e.g. isolated
nodes): tgp assigns them to a random kept node of their graph, we assign them
to the top-scored kept node of their graph, so the pooler stays deterministic
and independent of node order. On unweighted input tgp's pooled graph has no
weights (parallel edges merged); ours counts them as weights before the
max-normalisation, as it does for weighted input.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import GCNConv
from torch_geometric.nn.resolver import activation_resolver
from torch_geometric.utils import coalesce, get_laplacian, scatter

from poolbench.pooling.aggregate import edge_aggregate
from poolbench.pooling.base import Pooler, PoolOutput
from poolbench.pooling.connect import cluster_connect
from poolbench.pooling.registry import register
from poolbench.pooling.select import keep_top


def delta_propagation(
    edge_index: Tensor, edge_weight: Tensor | None, num_nodes: int, delta: float
) -> tuple[Tensor, Tensor]:
    """``P = I - delta * L_sym`` as an edge list (``delta > 1``: high-pass)."""
    lap_index, lap_weight = get_laplacian(
        edge_index, edge_weight, normalization="sym", num_nodes=num_nodes
    )
    eye = torch.arange(num_nodes, device=edge_index.device)
    index = torch.cat([lap_index, torch.stack([eye, eye])], dim=1)
    weight = torch.cat([-delta * lap_weight, lap_weight.new_ones(num_nodes)])
    return coalesce(index, weight, num_nodes=num_nodes, reduce="sum")


def maxcut_loss(
    z: Tensor, edge_index: Tensor, edge_weight: Tensor, batch: Tensor, num_graphs: int
) -> Tensor:
    """``mean_b z_b^T A_b z_b / vol(A_b)``; an edgeless graph contributes 0."""
    cut = scatter(
        z[edge_index[0]] * edge_weight * z[edge_index[1]],
        batch[edge_index[0]],
        dim=0,
        dim_size=num_graphs,
    )
    vol = scatter(edge_weight, batch[edge_index[0]], dim=0, dim_size=num_graphs)
    vol = torch.where(vol == 0, torch.ones_like(vol), vol)
    return (cut / vol).mean()


def assign_dropped(
    perm: Tensor, edge_index: Tensor, batch: Tensor, num_graphs: int, max_iter: int
) -> Tensor:
    """Position in ``perm`` of the supernode of every node ``[N]``.

    ``perm`` lists the kept nodes graph by graph, best score first, so a lower
    position is a higher score (tgp breaks count ties the same way).
    """
    n, k = batch.numel(), perm.numel()
    assign = torch.full((n,), -1, dtype=torch.long, device=perm.device)
    assign[perm] = torch.arange(k, device=perm.device)
    src, dst = edge_index
    for _ in range(max_iter):
        valid = (assign[src] >= 0) & (assign[dst] < 0)
        pair, count = torch.unique(
            dst[valid] * k + assign[src[valid]], return_counts=True
        )
        node, cl = pair // k, pair % k
        # Most frequent neighbouring supernode; among equals the lowest position.
        key = count * k + (k - 1 - cl)
        best = torch.full((n,), -1, dtype=torch.long, device=perm.device)
        best = best.scatter_reduce(0, node, key, "amax")
        new = best >= 0
        assign[new] = k - 1 - best[new] % k
    # Unreached nodes: the top-scored kept node of their graph.
    first = torch.full((num_graphs,), k, dtype=torch.long, device=perm.device)
    first = first.scatter_reduce(0, batch[perm], assign[perm], "amin")
    left = assign < 0
    assign[left] = first[batch[left]]
    return assign


class PropagationConv(GCNConv):
    """``GCNConv(normalize=False)`` (same parameters, so tgp's weights load),
    summing its edges without MessagePassing's per-call machinery."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(in_channels, out_channels, normalize=False)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor) -> Tensor:
        out = edge_aggregate(self.lin(x), edge_index, edge_weight)
        return out if self.bias is None else out + self.bias


class MaxCutScoreNet(nn.Module):
    """Node scores ``[N]`` in ``[-1, 1]`` from heterophilic message passing."""

    def __init__(
        self,
        in_channels: int,
        mp_units: tuple[int, ...],
        mp_act: str,
        mlp_units: tuple[int, ...],
        mlp_act: str,
        delta: float,
    ):
        super().__init__()
        self.delta = delta
        self.initial_layer = nn.Linear(in_channels, in_channels)
        sizes = [in_channels, *mp_units]
        self.mp_convs = nn.ModuleList(
            PropagationConv(a, b) for a, b in zip(sizes, sizes[1:])
        )
        self.mp_act = activation_resolver(mp_act)
        sizes = [sizes[-1], *mlp_units]
        self.mlp = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.mlp_act = activation_resolver(mlp_act)
        self.final_layer = nn.Linear(sizes[-1], 1)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None):
        prop_index, prop_weight = delta_propagation(
            edge_index, edge_weight, x.size(0), self.delta
        )
        h = self.initial_layer(x)
        for conv in self.mp_convs:
            h = self.mp_act(conv(h, prop_index, prop_weight))
        for lin in self.mlp:
            h = self.mlp_act(lin(h))
        return torch.tanh(self.final_layer(h)).view(-1)


@register("maxcut")
class MaxCutPool(Pooler):
    paper = "Abate & Bianchi, ICLR 2025, https://arxiv.org/abs/2409.05100"
    reference = (
        "tgp: equal with copied weights except unreached nodes (test_ref_score.py)"
    )
    family = "score"
    trainable = True
    has_aux_loss = True

    def __init__(
        self,
        in_channels: int,
        ratio: float = 0.5,
        avg_nodes: float = 0.0,
        mp_units: tuple[int, ...] = (32, 32, 32, 32),
        mp_act: str = "tanh",
        mlp_units: tuple[int, ...] = (16, 16),
        mlp_act: str = "relu",
        delta: float = 2.0,
        max_iter: int = 5,
        assign_all_nodes: bool = True,
        edge_weight_norm: bool = True,
        loss_coeff: float = 1.0,
    ):
        super().__init__(in_channels, ratio, avg_nodes)
        self.score_net = MaxCutScoreNet(
            in_channels, tuple(mp_units), mp_act, tuple(mlp_units), mlp_act, delta
        )
        self.max_iter = max_iter
        self.assign_all_nodes = assign_all_nodes
        self.edge_weight_norm = edge_weight_norm
        self.loss_coeff = loss_coeff

    def forward(
        self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor
    ) -> PoolOutput:
        n = x.size(0)
        num_graphs = int(batch.max()) + 1 if n else 0
        z = self.score_net(x, edge_index, edge_weight)
        perm = keep_top(z, self.ratio, batch)
        kept, order = torch.sort(perm)
        k = kept.numel()
        # Supernodes are numbered by the index of their kept node.
        rank = torch.empty_like(order)
        rank[order] = torch.arange(k, device=x.device)
        pos = assign_dropped(perm, edge_index, batch, num_graphs, self.max_iter)
        cluster = rank[pos]

        out_batch = batch[kept]
        # CON always uses the full assignment (as tgp).
        ei, ew = cluster_connect(edge_index, edge_weight, cluster, k)
        if self.edge_weight_norm and ew.numel():
            graph = out_batch[ei[0]]
            top = scatter(ew.abs(), graph, 0, dim_size=num_graphs, reduce="max")
            ew = ew / torch.where(top == 0, torch.ones_like(top), top)[graph]

        if self.assign_all_nodes:
            out_x = scatter(x * z.unsqueeze(-1), cluster, dim=0, dim_size=k)
        else:
            out_x = x[kept] * z[kept].unsqueeze(-1)
            # RED sees only the kept nodes: the others count as dropped.
            cluster = torch.full_like(cluster, -1)
            cluster[kept] = torch.arange(k, device=x.device)

        if edge_weight is None:
            edge_weight = z.new_ones(edge_index.size(1))
        loss = maxcut_loss(z, edge_index, edge_weight, batch, num_graphs)
        info = {"cluster": cluster, "perm": kept, "score": z[kept]}
        aux = {"maxcut": self.loss_coeff * loss}
        return PoolOutput(out_x, ei, ew, out_batch, aux_loss=aux, info=info)
