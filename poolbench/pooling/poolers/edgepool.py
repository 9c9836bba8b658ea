"""Edge contraction pooling, EdgePool (Diehl 2019), on PyG's EdgePooling scorer.

Paper: https://arxiv.org/abs/1905.10990

- SEL: edge score ``e_ij = softmax_{j->i}(lin([x_i, x_j])) + 0.5`` ``[E]``;
  greedy maximal matching in descending score order; each matched pair (and
  each unmatched node alone) becomes a supernode, ``cluster`` ``[N]``.
- RED: ``X'_k = g_k * sum_{i in k} X_i`` ``[K_total, F]``, gate ``g_k`` the
  score of the contracted edge (1 for a singleton).
- CON: ``A' = S^T A S`` for the one-hot ``S`` ``[N, K]``: parallel edges summed,
  self-loops removed (as tgp's EdgeContractionPooling; PyG drops edge weights
  and keeps the contracted edge as a self-loop).
- No auxiliary loss. ``K`` is not set by ``ratio`` (ignored): ``N/2 <= K <= N``.

The scorer is PyG's (its ``lin`` and ``compute_edge_score``). PyG's merge is a
Python loop over every edge with a host sync per edge, numbers supernodes in
score order (the pooled ``batch`` comes out unsorted) and mixes devices; we
replace it with the locally-dominant parallel matching: an edge joins when it
has the best rank among the remaining edges at both endpoints. For a strict
order this gives exactly the sequential greedy matching of PyG and tgp, in a
number of vectorised rounds (usually logarithmic; linear on adversarial score
orders). Supernodes are numbered by their smallest node index, so ``batch``
stays sorted; isolated nodes stay singletons.

Expressiveness: every node lands in exactly one cluster, but RED is a *gated*
sum. Written as ``X' = S^T X`` the rows of ``S`` sum to the gate of their
cluster, which varies between clusters and graphs, so the constant-row-sum
condition of Bianchi & Lachi (2023) fails (two graphs can reach the same
pooled sum through different gates); we declare it not expressive.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn.pool import EdgePooling

from poolbench.pooling.base import Pooler, PoolOutput
from poolbench.pooling.connect import cluster_connect
from poolbench.pooling.reduce import cluster_reduce
from poolbench.pooling.registry import register


def greedy_matching(edge_index: Tensor, rank: Tensor, num_nodes: int) -> Tensor:
    """Greedy maximal matching, lowest ``rank`` first, as a mask ``[E]``.

    ``rank`` must be a permutation of ``range(E)``. A self-loop edge ``(i, i)``
    can match ``i`` alone (as in PyG's sequential loop).
    """
    row, col = edge_index
    big = rank.numel()
    matched_node = torch.zeros(num_nodes, dtype=torch.bool, device=rank.device)
    match = torch.zeros_like(rank, dtype=torch.bool)
    alive = torch.ones_like(match)
    while bool(alive.any()):
        r = torch.where(alive, rank, big)
        best = torch.full((num_nodes,), big, dtype=rank.dtype, device=rank.device)
        best = best.scatter_reduce(0, row, r, "amin").scatter_reduce(0, col, r, "amin")
        new = alive & (best[row] == rank) & (best[col] == rank)
        match |= new
        matched_node[row[new]] = True
        matched_node[col[new]] = True
        alive &= ~(matched_node[row] | matched_node[col])
    return match


@register("edgepool")
class EdgePool(Pooler):
    paper = "Diehl, 2019, https://arxiv.org/abs/1905.10990"
    reference = "tgp and PyG: equal merge with copied weights (test_ref_score.py)"
    family = "score"
    trainable = True
    keeps_ratio: ClassVar[bool] = False

    def __init__(
        self,
        in_channels: int,
        ratio: float = 0.5,
        avg_nodes: float = 0.0,
        dropout: float = 0.0,
        add_to_edge_score: float = 0.5,
    ):
        super().__init__(in_channels, ratio, avg_nodes)
        self.pool = EdgePooling(
            in_channels, dropout=dropout, add_to_edge_score=add_to_edge_score
        )

    def edge_score(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """PyG's EdgePooling score ``[E]`` (its forward minus the merge)."""
        e = torch.cat([x[edge_index[0]], x[edge_index[1]]], dim=-1)
        e = self.pool.lin(e).view(-1)
        e = F.dropout(e, p=self.pool.dropout, training=self.training)
        e = self.pool.compute_edge_score(e, edge_index, x.size(0))
        return e + self.pool.add_to_edge_score

    def forward(
        self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor
    ) -> PoolOutput:
        n = x.size(0)
        e = self.edge_score(x, edge_index)
        order = torch.argsort(e.detach(), descending=True, stable=True)
        rank = torch.empty_like(order)
        rank[order] = torch.arange(order.numel(), device=order.device)
        match = greedy_matching(edge_index, rank, n)

        row, col = edge_index[:, match]
        rep = torch.arange(n, device=x.device)
        rep[row] = torch.minimum(row, col)
        rep[col] = torch.minimum(row, col)
        _, cluster = torch.unique(rep, return_inverse=True)
        k = int(cluster.max()) + 1 if n else 0

        gate = x.new_ones(k).index_put((cluster[row],), e[match])
        out_x = cluster_reduce(x, cluster, k) * gate.unsqueeze(-1)
        ei, ew = cluster_connect(edge_index, edge_weight, cluster, k)
        out_batch = batch.new_empty(k).scatter_(0, cluster, batch)
        info = {"cluster": cluster, "score": gate}
        return PoolOutput(out_x, ei, ew, out_batch, info=info)
