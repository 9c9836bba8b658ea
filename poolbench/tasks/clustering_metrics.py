"""How good a clustering is: against the labels, and on the graph alone.

- NMI and ARI: scikit-learn's ``normalized_mutual_info_score`` (arithmetic
  mean, as in DMoN's code) and ``adjusted_rand_score``.
- Pairwise F1 over node pairs: precision is the share of pairs placed in one
  cluster that share a label, recall the share of pairs sharing a label that
  are placed together. (DMoN's code derives its counts from contingency
  maxima instead, so its F1 values are not comparable with these.)
- Modularity (Newman 2006): ``Q = sum_c [m_c / m - (d_c / 2m)^2]``, with
  ``m_c`` the edge weight inside cluster ``c`` and ``d_c`` its degree sum.
- Conductance as in DMoN's code (after Yang & Leskovec 2012): the share of
  the edge weight that leaves its cluster, ``sum_c cut(c) / sum_c vol(c)``;
  lower is better.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix
from torch import Tensor


def pairwise_f1(labels: np.ndarray, clusters: np.ndarray) -> float:
    table = contingency_matrix(labels, clusters).astype(np.float64)
    pairs = lambda counts: (counts * (counts - 1) / 2).sum()  # noqa: E731
    together = pairs(table)  # pairs with one label and one cluster
    placed, labelled = pairs(table.sum(0)), pairs(table.sum(1))
    if together == 0:
        return 0.0
    precision, recall = together / placed, together / labelled
    return float(2 * precision * recall / (precision + recall))


def modularity(edge_index: Tensor, weight: Tensor | None, clusters: Tensor) -> float:
    """Newman's modularity of a hard clustering ``[N]`` of a symmetric graph."""
    w = torch.ones(edge_index.size(1)) if weight is None else weight.float().cpu()
    src, dst = edge_index.cpu()
    two_m = float(w.sum())
    if two_m == 0:
        return 0.0
    k = int(clusters.max()) + 1
    inside = torch.zeros(k).index_add_(
        0, clusters[src], w * (clusters[src] == clusters[dst])
    )
    degree = torch.zeros(k).index_add_(0, clusters[src], w)
    return float((inside / two_m - (degree / two_m) ** 2).sum())


def conductance(edge_index: Tensor, weight: Tensor | None, clusters: Tensor) -> float:
    """The share of edge weight between clusters: sum of cuts / sum of volumes."""
    w = torch.ones(edge_index.size(1)) if weight is None else weight.float().cpu()
    src, dst = edge_index.cpu()
    total = float(w.sum())
    if total == 0:
        return 0.0
    return float(w[clusters[src] != clusters[dst]].sum()) / total


def clustering_scores(
    labels: Tensor, clusters: Tensor, edge_index: Tensor, weight: Tensor | None
) -> dict[str, float]:
    """NMI, pairwise F1 and ARI against ``labels``; modularity and conductance."""
    y, c = labels.cpu().numpy(), clusters.cpu().numpy()
    return {
        "nmi": float(normalized_mutual_info_score(y, c, average_method="arithmetic")),
        "f1": pairwise_f1(y, c),
        "ari": float(adjusted_rand_score(y, c)),
        "modularity": modularity(edge_index, weight, clusters.cpu()),
        "conductance": conductance(edge_index, weight, clusters.cpu()),
    }
