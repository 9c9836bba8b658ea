"""Laplacian pooling, LaPool (Noutahi et al. 2019): leaders and soft followers.

Paper: https://arxiv.org/abs/1905.11577

- SEL: the signal variation ``v_i = ||(L X)_i||_2`` (``L = D - A``) marks as
  leaders the nodes with ``v_i >= v_j`` for every neighbour ``j`` (isolated
  nodes lead themselves). Each leader is a cluster of its own (one-hot row);
  every other node spreads over its graph's leaders by
  ``softmax_j(cos(x_i, x_leader_j))``. ``S`` ``[B, N, K_max]``, each graph's
  leaders in node order in its first columns; K is data driven (``ratio`` is
  ignored).
- RED: ``X' = S^T X`` (one row per leader, ``[K_total, F]``).
- CON: ``A' = D^{-1/2} (S^T A S - diag) D^{-1/2}``.
- No parameters and no auxiliary loss.

Not precomputable: the leaders and the soft assignment read the features
``X``, which change as the layers before the pooler learn. No padded
``[B, N, N]`` adjacency is built: the variation, the leaders' neighbourhood
maximum and ``A S`` are sums over the edges, and the cosines, ``S^T X`` and
``S^T A S`` per-graph products over the batch's size groups (as the
soft-clustering poolers'). S itself is ``[N, K_max]``, and K, the leader
count, can reach N (every node leads where all variations tie), so the
memory estimate keeps its ``N^2`` term for LaPool. Matches tgp's
LaPooling (batched, ``shortest_path_reg=False``, its default) value for value
on each graph's block (tested); tgp pads every graph to the batch's largest
leader count with empty supernodes, here each graph keeps only its leaders.
Expressive by the rule of Bianchi & Lachi (2023): every node is assigned,
rows of S sum to 1 and RED is ``S^T X``.

Cannot cluster: nothing is learned and there is no clustering objective;
the number of clusters is whatever the leaders give.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from poolbench.pooling.base import Pooler, PoolOutput
from poolbench.pooling.connect import clean_pooled
from poolbench.pooling.dense import Padding, SizeGroups, adj_times_rows, edge_entries
from poolbench.pooling.registry import register
from poolbench.pooling.select import softmax_last


def leaders(
    x: Tensor,
    edge_index: Tensor,
    edge_weight: Tensor | None,
    batch: Tensor,
    num_graphs: int,
) -> Tensor:
    """Leader mask ``[N]`` from the Laplacian signal variation, over the edges.

    A node leads when its ``v_i = ||(L X)_i||`` is at least every
    neighbour's, a neighbour being a nonzero entry of A (parallel edges
    summed first, as in the dense A). A discrete choice: no gradient.
    """
    with torch.no_grad():
        a_x, deg = adj_times_rows(edge_index, edge_weight, x)
        v = (deg.unsqueeze(-1) * x - a_x).norm(dim=-1)
        if edge_weight is None:  # unit weights cannot cancel
            row, col = edge_index
        else:
            e = edge_entries(edge_index, edge_weight, batch, x.dtype)
            stored = (e.weight != 0).nonzero().view(-1)
            row, col = e.row.index_select(0, stored), e.col.index_select(0, stored)
        neighbour = v.new_full(v.shape, float("-inf"))
        neighbour.index_reduce_(0, row, v.index_select(0, col), "amax")
        lead = v >= neighbour
        # A graph always has a leader (its largest v); guard against NaN features.
        has = torch.zeros(num_graphs, dtype=torch.long, device=x.device)
        has.index_add_(0, batch, lead.long())
        return lead | (has == 0).index_select(0, batch)


def leader_assignment(
    x: Tensor, lead: Tensor, batch: Tensor, groups: SizeGroups
) -> tuple[Tensor, Tensor]:
    """``S`` of the real nodes ``[N, K_max]`` and the real-supernode mask
    ``[B, K_max]``: leaders one-hot, the others softmax over the cosines to
    their graph's leaders, each graph's leaders in node order."""
    num_graphs = groups.num_graphs
    count = torch.zeros(num_graphs, dtype=torch.long, device=x.device)
    count.index_add_(0, batch, lead.long())
    k_max = max(int(count.max()), 1) if num_graphs else 1
    # Column of each leader inside its graph: leaders in node order.
    rank = torch.cumsum(lead.long(), 0) - 1
    first = torch.cumsum(count, 0) - count
    ids = lead.nonzero().view(-1)
    col = rank.index_select(0, ids) - first.index_select(0, batch.index_select(0, ids))
    graph = batch.index_select(0, ids)
    leader_x = x.new_zeros(num_graphs * k_max, x.size(-1))
    leader_x = leader_x.index_copy(0, graph * k_max + col, x.index_select(0, ids))
    leader_x = leader_x.view(num_graphs, k_max, -1)
    out_mask = torch.arange(k_max, device=x.device) < count.unsqueeze(1)
    # x_i . leader_j over each graph's own leaders, one product per size group
    dot = _per_graph_products(x, leader_x, groups)
    node_norm = x.norm(dim=-1, keepdim=True)
    leader_norm = leader_x.norm(dim=-1).index_select(0, batch)
    cos = dot / (node_norm * leader_norm + 1e-8)
    cos = cos.masked_fill(~out_mask.index_select(0, batch), float("-inf"))
    s = softmax_last(cos)
    onehot = torch.zeros_like(s)
    onehot[ids, col] = 1.0
    return torch.where(lead.unsqueeze(-1), onehot, s), out_mask


def _per_graph_products(x: Tensor, right: Tensor, groups: SizeGroups) -> Tensor:
    """``[N, K]``: row i is ``x_i right[g_i]^T`` (``right`` ``[B, K, F]``),
    as batched products over the size groups' padded blocks."""
    order = groups.order
    by_block = right if order is None else right.index_select(0, order)
    parts, begin = [], 0
    for (block,), (graphs, n_max, _) in zip(groups.blocks_of(x), groups.blocks):
        mats = by_block[begin : begin + graphs]
        # explicit width: n_max may be 0 (a block of graphs without nodes)
        product = block @ mats.transpose(1, 2)
        parts.append(product.reshape(graphs * n_max, right.size(1)))
        begin += graphs
    stacked = torch.cat(parts) if parts else x.new_zeros(0, right.size(1))
    return stacked.index_select(0, groups.index)


@register("lapool")
class LaPool(Pooler):
    paper = "Noutahi et al., 2019, https://arxiv.org/abs/1905.11577"
    reference = "tgp: equal per graph (test_ref_sep_lapool.py)"
    family = "soft_clustering"
    is_dense = True
    expressive = True
    keeps_ratio: ClassVar[bool] = False

    def forward(
        self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor
    ) -> PoolOutput:
        padding = Padding.of(batch)
        groups = SizeGroups.of(batch, padding)
        lead = leaders(x, edge_index, edge_weight, batch, groups.num_graphs)
        s_flat, out_mask = leader_assignment(x, lead, batch, groups)
        k = s_flat.size(-1)
        a_s, _ = adj_times_rows(edge_index, edge_weight, s_flat)
        # RED's S^T X and CON's S^T A S in one per-graph product
        rows = torch.cat([a_s, x.to(s_flat.dtype)], 1)
        sas, x_pool = groups.gram(s_flat, rows).split([k, x.size(-1)], -1)
        adj_pool = clean_pooled(sas, True, True)
        # Keep each graph's real supernodes only, numbered graph by graph.
        ids = torch.full(out_mask.shape, -1, dtype=torch.long, device=x.device)
        ids[out_mask] = torch.arange(int(out_mask.sum()), device=x.device)
        g, r, c = adj_pool.nonzero(as_tuple=True)
        out_batch = out_mask.nonzero(as_tuple=True)[0]
        return PoolOutput(
            x_pool[out_mask],
            torch.stack([ids[g, r], ids[g, c]]),
            adj_pool[g, r, c],
            out_batch,
            s=padding.pad(s_flat),
            info={"mask": padding.mask},
        )
