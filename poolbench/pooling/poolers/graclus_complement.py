"""Graclus on the complement graph: the control of Bianchi & Lachi (2023).

Paper: https://arxiv.org/abs/2304.01575

- SEL: :func:`poolbench.pooling.select.select_graclus` run on the unweighted
  complement of each graph (pairs of distinct nodes of the same graph that are
  not adjacent; never across graphs), so matched pairs are non-adjacent nodes.
  ``ratio`` is ignored.
- RED: ``X' = S^T X`` (sum; S one-hot ``[N, K]``, every node assigned).
- CON: ``A' = S^T A S`` on the ORIGINAL graph, without self-loops.
- No auxiliary loss.

The pooled graph keeps the information an expressive pooler needs (every node
assigned, sum RED) while the clusters ignore the topology: it tests whether the
choice of clusters matters.
"""

from __future__ import annotations

import torch
from torch import Tensor

from poolbench.pooling.base import TopologyPooler
from poolbench.pooling.poolers.graclus import cluster_topology
from poolbench.pooling.registry import register
from poolbench.pooling.select import padded_topology, select_graclus


def complement_edges(edge_index: Tensor, batch: Tensor) -> Tensor:
    """Edges ``[2, E_c]`` of the per-graph complement of a sorted batch."""
    adj, mask, _ = padded_topology(edge_index, None, batch)
    n = adj.size(-1)
    eye = torch.eye(n, dtype=torch.bool, device=adj.device)
    comp = mask.unsqueeze(-1) & mask.unsqueeze(-2) & (adj == 0) & ~eye
    b, i, j = comp.nonzero(as_tuple=True)
    count = mask.sum(1)
    ptr = count.cumsum(0) - count
    return torch.stack([ptr[b] + i, ptr[b] + j])


@register("graclus_complement")
class GraclusComplementPool(TopologyPooler):
    paper = "Bianchi & Lachi, NeurIPS 2023, https://arxiv.org/abs/2304.01575"
    reference = "control; RED and CON as tgp (test_ref_one_over_k.py)"
    family = "control"
    expressive = True
    # The complement is unweighted: its matching's ties fall to node index.
    order_invariant = False

    def precompute(
        self, edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor
    ) -> dict[str, Tensor]:
        comp = complement_edges(edge_index, batch)
        cluster = select_graclus(comp, None, batch.numel())
        return cluster_topology(cluster, edge_index, edge_weight, batch)
