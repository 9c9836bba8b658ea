"""Graclus pooling (Dhillon et al. 2007): heavy-edge matching, precomputable.

Paper: https://ieeexplore.ieee.org/document/4302760

- SEL: a maximal matching, greedy by the normalised-cut weight
  ``w_ij (1/d_i + 1/d_j)`` (see :func:`poolbench.pooling.select.select_graclus`);
  every pair becomes one supernode, every unmatched node a singleton, so each
  graph keeps between N/2 and N supernodes. ``ratio`` is ignored.
- RED: ``X' = S^T X`` (sum over each cluster; S one-hot ``[N, K]``).
- CON: ``A' = S^T A S`` without self-loops (parallel edges summed).
- No auxiliary loss.

tgp and PyG run torch_cluster's graclus, which visits nodes in a random order
and matches each to the unmatched neighbour of largest raw edge weight (any one
when unweighted). Here the weight is Dhillon's normalised-cut weight and the
matching is the deterministic greedy one by decreasing weight, with ties broken
as documented in ``select_graclus``.
"""

from __future__ import annotations

from torch import Tensor

from poolbench.pooling.base import TopologyPooler
from poolbench.pooling.connect import cluster_connect
from poolbench.pooling.registry import register
from poolbench.pooling.select import select_graclus


def cluster_topology(
    cluster: Tensor, edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor
) -> dict[str, Tensor]:
    """The ``precompute`` dict of a hard assignment in which every node is kept."""
    num = int(cluster.max()) + 1 if cluster.numel() else 0
    pooled_batch = batch.new_zeros(num).scatter_(0, cluster, batch)
    ei, ew = cluster_connect(edge_index, edge_weight, cluster, num)
    return {
        "cluster": cluster,
        "edge_index": ei,
        "edge_weight": ew,
        "batch": pooled_batch,
    }


@register("graclus")
class GraclusPool(TopologyPooler):
    paper = "Dhillon et al., TPAMI 2007, https://ieeexplore.ieee.org/document/4302760"
    reference = (
        "tgp: RED and CON equal given the matching; matching deterministic, not "
        "torch_cluster's (test_ref_one_over_k.py)"
    )
    family = "one_over_k"
    expressive = True

    def precompute(
        self, edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor
    ) -> dict[str, Tensor]:
        cluster = select_graclus(edge_index, edge_weight, batch.numel())
        return cluster_topology(cluster, edge_index, edge_weight, batch)
