"""Spectral clustering of the graph: the topology-only clustering baseline.

The community-level task's reference point without features (von Luxburg
2007; DMoN's paper reports it as "SC"); as a pooler it is a one-over-K-like
control whose clusters come from the graph alone, so it is precomputable.

- SEL: scikit-learn's ``SpectralClustering`` on each graph's adjacency
  (``affinity="precomputed"``, labels by ``cluster_qr``, which is
  deterministic), K = ceil(ratio * avg_nodes) clusters, at most the graph's
  nodes; graphs without edges put every node in one cluster.
- RED: ``X' = S^T X`` (sum; S one-hot ``[N, K]``).
- CON: ``A' = S^T A S`` without self-loops.
- No auxiliary loss, nothing trained.

On a disconnected graph the leading Laplacian eigenvectors are indicators of
components, so the clusters follow the components: on Cora (78 components)
the K = 16 clusters are the giant component and small ones, which scores low
NMI and zero conductance. That is what spectral clustering does there; a
benchmark that wants it on the largest component must select it first.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import Tensor

from poolbench.pooling.base import TopologyPooler
from poolbench.pooling.poolers.graclus import cluster_topology
from poolbench.pooling.poolers.kmeans import by_first_appearance
from poolbench.pooling.registry import register


def spectral_clusters(
    edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor, k: int
) -> Tensor:
    """Graph-ordered cluster ids ``[N]`` of spectral clustering per graph."""
    from scipy.sparse import coo_matrix
    from sklearn.cluster import SpectralClustering

    graphs = batch.cpu().numpy()
    src, dst = edge_index.cpu().numpy()
    w = (
        np.ones(src.size)
        if edge_weight is None
        else edge_weight.detach().double().cpu().numpy()
    )
    cluster = np.empty(len(graphs), dtype=np.int64)
    offset = 0
    for g in np.unique(graphs):
        rows = np.flatnonzero(graphs == g)
        start, n = rows[0], len(rows)
        inside = (graphs[src] == g) & (graphs[dst] == g)
        n_clusters = min(k, n)
        if n_clusters == 1 or not inside.any():
            labels = np.zeros(n, dtype=np.int64)
        elif n_clusters == n:
            labels = np.arange(n)
        else:
            adj = coo_matrix(
                (w[inside], (src[inside] - start, dst[inside] - start)), shape=(n, n)
            ).tocsr()
            if n <= 2000:  # ARPACK needs K < N: small graphs go dense
                adj = adj.toarray()
            with warnings.catch_warnings():  # disconnected graphs: a known caveat
                warnings.simplefilter("ignore")
                labels = SpectralClustering(
                    n_clusters, affinity="precomputed", assign_labels="cluster_qr",
                    random_state=0,
                ).fit_predict(adj)  # fmt: skip
            labels = by_first_appearance(labels)
        cluster[rows] = labels + offset
        offset += int(labels.max()) + 1
    return torch.from_numpy(cluster).to(edge_index.device)


@register("spectral")
class SpectralPool(TopologyPooler):
    family = "control"
    clustering_baseline = True
    keeps_ratio = False  # small graphs get fewer than K clusters
    expressive = True  # every node assigned, one-hot S, RED = S^T X
    paper = "Ng, Jordan & Weiss, NeurIPS 2001; baseline of Tsitsulin et al., JMLR 2023"
    reference = "scikit-learn SpectralClustering (this pooler calls it)"

    def precompute(self, edge_index, edge_weight, batch) -> dict[str, Tensor]:
        cluster = spectral_clusters(edge_index, edge_weight, batch, self.num_clusters)
        return cluster_topology(cluster, edge_index, edge_weight, batch)
