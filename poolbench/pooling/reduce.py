"""RED: how poolers compute supernode features from node features and S."""

from __future__ import annotations

from torch import Tensor
from torch_geometric.utils import scatter


def dense_reduce(x: Tensor, s: Tensor) -> Tensor:
    """``X' = S^T X``: ``x`` ``[B, N, F]``, ``s`` ``[B, N, K]`` -> ``[B, K, F]``."""
    return s.transpose(1, 2) @ x


def cluster_reduce(
    x: Tensor, cluster: Tensor, num_clusters: int, reduce: str = "sum"
) -> Tensor:
    """Aggregate node features inside each cluster.

    Args:
        x: node features ``[N, F]``.
        cluster: supernode id of each node ``[N]``; ids lie in ``[0, num_clusters)``.
        num_clusters: K, the number of supernodes in the batch.
        reduce: ``sum`` (equals ``S^T X`` for a one-hot S), ``mean`` or ``max``.

    Returns:
        supernode features ``[K, F]``.
    """
    return scatter(x, cluster, dim=0, dim_size=num_clusters, reduce=reduce)
