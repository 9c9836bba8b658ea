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
``X``, which change as the layers before the pooler learn. Matches tgp's
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
from poolbench.pooling.dense import to_padded
from poolbench.pooling.reduce import dense_reduce
from poolbench.pooling.registry import register
from poolbench.pooling.select import softmax_last


def leaders(x: Tensor, adj: Tensor, mask: Tensor) -> Tensor:
    """Leader mask ``[B, N]`` from the Laplacian signal variation."""
    v = (adj.sum(-1, keepdim=True) * x - adj @ x).norm(dim=-1)
    neighbour = torch.where(adj != 0, v.unsqueeze(1), float("-inf")).amax(-1)
    lead = (v >= neighbour) & mask
    # A graph always has a leader (its largest v); guard against NaN features.
    none = ~lead.any(1, keepdim=True)
    return lead | (none & mask)


def leader_assignment(x: Tensor, lead: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """``S`` ``[B, N, K_max]`` and the real-supernode mask ``[B, K_max]``."""
    num_graphs, n, _ = x.shape
    count = lead.sum(1)
    k_max = max(int(count.max()), 1)
    # Column of each leader inside its graph: leaders in node order.
    col = torch.cumsum(lead.long(), 1) - 1
    b, i = lead.nonzero(as_tuple=True)
    leader_x = x.new_zeros(num_graphs, k_max, x.size(-1))
    leader_x[b, col[b, i]] = x[b, i]
    out_mask = torch.arange(k_max, device=x.device) < count.unsqueeze(1)
    dot = x @ leader_x.transpose(1, 2)
    norms = x.norm(dim=-1, keepdim=True) * leader_x.norm(dim=-1).unsqueeze(1)
    cos = dot / (norms + 1e-8)
    cos = cos.masked_fill(~out_mask.unsqueeze(1), float("-inf"))
    s = softmax_last(cos)
    onehot = torch.zeros_like(s)
    onehot[b, i, col[b, i]] = 1.0
    s = torch.where(lead.unsqueeze(-1), onehot, s)
    return s * mask.unsqueeze(-1).to(s.dtype), out_mask


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
        x_dense, adj, mask = to_padded(x, edge_index, edge_weight, batch)
        s, out_mask = leader_assignment(x_dense, leaders(x_dense, adj, mask), mask)
        x_pool = dense_reduce(x_dense, s)
        adj_pool = clean_pooled(s.transpose(1, 2) @ adj @ s, True, True)
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
            s=s,
            info={"mask": mask},
        )
