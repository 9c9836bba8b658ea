"""The assignment S of a pooled batch, read back from any PoolOutput, and its uses.

Every evaluation needs S per graph: the expressiveness conditions (row sums of
S, RED = SᵀX), the autoencoder's lift back to the nodes and the spectral loss's
pooled eigenvectors. Dense poolers hand S over directly (``s`` ``[B, N, K]``
with ``info["mask"]``); sparse ones give ``info["cluster"]`` ``[N]`` (-1 where
a node is dropped), from which S is the one-hot membership matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.utils import scatter, to_dense_batch

from poolbench.pooling.base import PoolOutput


@dataclass
class GraphAssignment:
    """S of one graph, ``[N, K]``, with the node ids of the batch it covers.

    ``nodes`` are the graph's input node ids ``[N]`` and ``supernodes`` the ids
    of its rows in ``PoolOutput.x`` ``[K]``.
    """

    s: Tensor
    nodes: Tensor
    supernodes: Tensor


def has_assignment(out: PoolOutput) -> bool:
    return out.s is not None or "cluster" in out.info


def membership(out: PoolOutput, num_nodes: int) -> Tensor:
    """S for the whole batch, ``[N_total, K_total]`` (block diagonal over graphs).

    Dense poolers: the rows of the padded ``s`` that are real nodes, each graph
    in its own column block. Sparse poolers: one-hot of ``cluster``; a dropped
    node is an all-zero row.
    """
    if out.s is not None:
        s, mask = out.s, out.info["mask"]
        b, n, k = s.shape
        # Column j of graph g is its j-th pooled node (LaPool keeps fewer than K).
        rows = torch.arange(out.x.size(0), device=s.device)
        index, valid = to_dense_batch(rows, out.batch, batch_size=b, max_num_nodes=k)
        full = s.new_zeros(b, n, out.x.size(0))
        for g in range(b):
            full[g][:, index[g][valid[g]]] = s[g][:, valid[g]]
        return full[mask]
    cluster = out.info["cluster"]
    s = torch.zeros(num_nodes, out.x.size(0), device=out.x.device)
    kept = (cluster >= 0).nonzero().view(-1)
    s[kept, cluster[kept]] = 1.0
    return s


def per_graph(out: PoolOutput, batch: Tensor) -> list[GraphAssignment]:
    """S split by graph, each ``[N_g, K_g]``."""
    s = membership(out, batch.numel())
    graphs = []
    for g in range(int(batch.max()) + 1 if batch.numel() else 0):
        nodes = (batch == g).nonzero().view(-1)
        supernodes = (out.batch == g).nonzero().view(-1)
        graphs.append(GraphAssignment(s[nodes][:, supernodes], nodes, supernodes))
    return graphs


def row_sums(out: PoolOutput, num_nodes: int) -> Tensor:
    """Σ_k S_ik for every real input node ``[N_total]``."""
    return membership(out, num_nodes).sum(dim=1)


def reduce_as_sum(out: PoolOutput, x: Tensor, batch: Tensor) -> Tensor:
    """``SᵀX`` in the row order of ``out.x`` ``[K_total, F]``."""
    if out.s is not None:
        x_dense, _ = to_dense_batch(x, batch, batch_size=out.s.size(0))
        return (out.s.transpose(1, 2) @ x_dense).reshape(-1, x.size(1))
    cluster = out.info["cluster"]
    keep = cluster >= 0
    return scatter(x[keep], cluster[keep], dim=0, dim_size=out.x.size(0), reduce="sum")


def red_error(out: PoolOutput, x: Tensor, batch: Tensor) -> float:
    """max |RED(X) − SᵀX| relative to max |SᵀX| (0 when RED is exactly SᵀX)."""
    expected = reduce_as_sum(out, x, batch)
    if expected.shape != out.x.shape:
        return float("inf")
    scale = expected.abs().max().clamp_min(1e-12)
    error = (out.x - expected).detach().abs().max() / scale.detach()
    return float(error) if out.x.numel() else 0.0


def pooled_signal(out: PoolOutput, signal: Tensor, batch: Tensor, reduce="sum"):
    """RED applied to a node signal ``[N, D]``, differentiable through S or scores.

    Dense: ``SᵀU``. Sparse: ``reduce`` inside each cluster, times the pooler's
    gate ``info["score"]`` when it reports one per supernode (Top-K and kin
    scale kept features by their score).
    """
    if out.s is not None:
        return reduce_as_sum(out, signal, batch)
    cluster = out.info["cluster"]
    keep = cluster >= 0
    pooled = scatter(
        signal[keep], cluster[keep], dim=0, dim_size=out.x.size(0), reduce=reduce
    )
    score = out.info.get("score")
    if score is not None and score.numel() == pooled.size(0):
        pooled = pooled * score.view(-1, 1)
    return pooled
