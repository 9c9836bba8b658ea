"""CON: how poolers compute the pooled adjacency."""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.utils import coalesce, remove_self_loops

# Added under square roots and in denominators: a graph with no edges has zero
# degree, and sqrt(0) has an infinite gradient (the MinCut NaN of PyG issue 3032).
EPS = 1e-12


def dense_connect(
    adj: Tensor,
    s: Tensor,
    remove_loops: bool = False,
    degree_norm: bool = False,
) -> Tensor:
    """``A' = S^T A S``, optionally without self-loops and symmetrically normalised.

    Shapes: ``adj`` ``[B, N, N]``, ``s`` ``[B, N, K]`` -> ``[B, K, K]``.
    """
    return clean_pooled(s.transpose(1, 2) @ (adj @ s), remove_loops, degree_norm)


def clean_pooled(
    pooled: Tensor, remove_loops: bool = False, degree_norm: bool = False
) -> Tensor:
    """CON's post-processing of a raw ``S^T A S`` ``[B, K, K]``."""
    out = pooled
    if remove_loops:
        out = out * (1 - torch.eye(out.size(-1), device=out.device, dtype=out.dtype))
    if degree_norm:
        d = (out.sum(-1) + EPS).sqrt()
        out = out / d.unsqueeze(-1) / d.unsqueeze(-2)
    return out


def cluster_connect(
    edge_index: Tensor,
    edge_weight: Tensor | None,
    cluster: Tensor,
    num_clusters: int,
    remove_loops: bool = True,
) -> tuple[Tensor, Tensor]:
    """Pooled edges of a hard assignment: ``A' = S^T A S`` for one-hot S.

    Edges touching a dropped node (``cluster == -1``) vanish; parallel edges
    between two supernodes are merged by summing their weights.

    Returns:
        ``edge_index`` ``[2, E']`` and ``edge_weight`` ``[E']``.
    """
    if edge_weight is None:
        edge_weight = torch.ones(edge_index.size(1), device=edge_index.device)
    row, col = cluster[edge_index[0]], cluster[edge_index[1]]
    keep = (row >= 0) & (col >= 0)
    pooled = torch.stack([row[keep], col[keep]])
    weight = edge_weight[keep]
    if remove_loops:
        pooled, weight = remove_self_loops(pooled, weight)
    pooled, weight = coalesce(pooled, weight, num_nodes=num_clusters, reduce="sum")
    return pooled, weight


def degree_normalised(
    edge_index: Tensor, edge_weight: Tensor, num_nodes: int, eps: float = 1e-8
) -> tuple[Tensor, Tensor]:
    """``D^{-1/2} A D^{-1/2}`` on an edge list, ``d`` the row sums (at least eps).

    Edges whose weight is within ``eps`` of zero are dropped first.
    """
    keep = edge_weight.abs() > eps
    edge_index, edge_weight = edge_index[:, keep], edge_weight[keep]
    deg = torch.zeros(num_nodes, dtype=edge_weight.dtype, device=edge_weight.device)
    deg = deg.index_add(0, edge_index[0], edge_weight).clamp_min(eps)
    inv_sqrt = deg.pow(-0.5)
    return edge_index, edge_weight * inv_sqrt[edge_index[0]] * inv_sqrt[edge_index[1]]
