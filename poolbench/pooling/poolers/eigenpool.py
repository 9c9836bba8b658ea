"""EigenPooling (Ma et al., KDD 2019): spectral clusters and their graph Fourier modes.

Paper: https://arxiv.org/abs/1904.13107; authors' code: github.com/alge24/eigenpooling.

- SEL: spectral clustering of each graph into K = ceil(ratio * avg_nodes)
  clusters (:func:`spectral_clusters`); a graph with ``N <= K`` nodes keeps one
  cluster per node and leaves the rest of its K supernodes empty. Each node
  ``i`` of cluster ``c`` gets ``H`` mode coefficients ``theta_i``: its entries
  in the first ``H`` eigenvectors of the normalised Laplacian of ``c``'s
  induced subgraph (``Θ`` ``[N, K H]``, stored per node as ``[N, H]``).
- RED: ``X'_c = [Θ_c^(1)T X, ..., Θ_c^(H)T X]`` ``[K, H F]``: features become
  modes x F (the next layer reads ``H F`` channels).
- CON: ``A' = Ω^T A_ext Ω`` (inter-cluster edges summed, Ω the one-hot
  clusters), then ``D^{-1/2} A' D^{-1/2}``.
- LIFT: ``X = Θ X'`` (each node mixes its cluster's mode blocks).
- No auxiliary loss; nothing is learned, so it is precomputed.

As the authors' code (and tgp): a cluster smaller than ``H`` repeats its last
eigenvector for the missing modes. A single-node cluster's coefficient is 1,
the eigenvector of its 1 x 1 Laplacian (``singleton: eigenvector``, the
paper's definition). The authors' code and tgp put its self-loop weight there
instead (``singleton: self_loop``): 0 without a loop, so its features do not
pass. With K fixed per dataset that matters: every graph with ``N <= K`` is
all singletons, and on PROTEINS (K = 20) 412 of 1,113 graphs pooled to zero
features (the authors gave each graph ``N / pooling_size`` clusters, so
singletons were rare there). Two more deviations from tgp, both so the pooled
graph does not depend on node order or on a random draw: tgp clusters with
scikit-learn's SpectralClustering (random k-means starts, ``n_init=10``,
unseeded); here the same spectral embedding
(eigenvectors of ``I - D^{-1/2} A D^{-1/2}`` scaled by ``D^{-1/2}``) goes
through Lloyd's k-means from a farthest-point start (the node with the largest
embedding norm first). tgp (like the authors) makes each eigenvector's first
node positive; here its largest-magnitude entry is positive (among equal
magnitudes, the entry of the node of highest degree). Tested: the
partitions equal scikit-learn's on graphs with clear clusters, and Θ, RED, CON
and LIFT equal tgp's given the same clusters, up to that sign. Eigenvectors of
repeated eigenvalues (symmetric subgraphs) are not unique, and on unweighted
graphs equal embeddings tie at the k-means start (a random relabelling of
MUTAG's nodes changed 105 of its 188 partitions at K = N/2): there the pooled
graph still depends on node order. Revision 1 (2026-12-03): the degree
tie-break of the sign.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from poolbench.pooling.base import PoolOutput, TopologyPooler
from poolbench.pooling.connect import cluster_connect, degree_normalised
from poolbench.pooling.registry import register


def normalised_laplacian(adj: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``I - D^{-1/2} A D^{-1/2}`` and ``d`` (degree-0 rows are identity rows)."""
    d = adj.sum(axis=0)
    inv = np.where(d > 0, 1.0 / np.sqrt(np.where(d > 0, d, 1.0)), 0.0)
    return np.eye(adj.shape[0]) - inv[:, None] * adj * inv[None, :], d


def kmeans(points: np.ndarray, k: int, iterations: int = 300) -> np.ndarray:
    """Lloyd's k-means from a farthest-point start; labels ``[N]``."""
    first = int(np.argmax((points**2).sum(1)))
    centers = [points[first]]
    dist = ((points - centers[0]) ** 2).sum(1)
    for _ in range(1, k):
        nxt = int(np.argmax(dist))
        centers.append(points[nxt])
        dist = np.minimum(dist, ((points - points[nxt]) ** 2).sum(1))
    centers = np.stack(centers)
    labels = np.full(points.shape[0], -1)
    for _ in range(iterations):
        d2 = ((points[:, None, :] - centers[None]) ** 2).sum(-1)
        new = d2.argmin(1)
        if np.array_equal(new, labels):
            break
        labels = new
        for c in range(k):
            members = labels == c
            if members.any():
                centers[c] = points[members].mean(0)
    return labels


def spectral_clusters(adj: np.ndarray, k: int) -> np.ndarray:
    """Cluster of each node ``[N]`` in ``[0, min(k, N))``, numbered by first node."""
    n = adj.shape[0]
    if k >= n:
        return np.arange(n)
    if k <= 1:
        return np.zeros(n, dtype=np.int64)
    lap, d = normalised_laplacian(adj)
    _, vectors = np.linalg.eigh(lap)
    embedding = vectors[:, :k] / np.sqrt(np.where(d > 0, d, 1.0))[:, None]
    labels = kmeans(embedding, k)
    _, first = np.unique(labels, return_index=True)
    rank = np.empty(labels.max() + 1, dtype=np.int64)
    rank[labels[np.sort(first)]] = np.arange(first.size)
    return rank[labels]


SINGLETONS = ("eigenvector", "self_loop")


def oriented(v: np.ndarray, keys: tuple[np.ndarray, ...]) -> np.ndarray:
    """``v`` or ``-v``, whichever has its largest-magnitude entry positive.

    An eigenvector's sign is arbitrary, and ``eigh`` picks it by node order.
    Entries of equal magnitude (a two-node cluster's second mode is always
    ``[1, -1] / sqrt 2``) are told apart by ``keys``, compared in turn: the
    node with the largest first key leads, the second key breaks its ties.
    Only nodes equal in every key fall to node order.
    """
    magnitude = np.abs(v)
    tied = np.flatnonzero(magnitude >= magnitude.max() - 1e-9)
    lead = tied[np.lexsort(tuple(key[tied] for key in reversed(keys)))[-1]]
    return -v if v[lead] < 0 else v


def mode_coefficients(
    adj: np.ndarray, labels: np.ndarray, modes: int, singleton: str = "eigenvector"
) -> np.ndarray:
    """Each node's first ``modes`` eigenvector entries in its cluster ``[N, H]``.

    A one-node cluster: ``eigenvector`` gives it 1 (the eigenvector of its 1 x 1
    Laplacian, as the paper defines the modes), ``self_loop`` its self-loop
    weight (the authors' code and tgp: 0 without a loop, its features lost).
    """
    theta = np.zeros((adj.shape[0], modes))
    # Order-free node keys for the sign of a mode (see oriented): weighted
    # degree in the whole graph, then the sum of the neighbours' degrees,
    # rounded so that float summation order cannot tell equal keys apart.
    degree = adj.sum(axis=0)
    keys = (np.round(degree, 9), np.round(adj @ degree, 9))
    for c in np.unique(labels):
        nodes = np.flatnonzero(labels == c)
        sub = adj[np.ix_(nodes, nodes)]
        if nodes.size == 1:
            theta[nodes[0]] = 1.0 if singleton == "eigenvector" else sub[0, 0]
            continue
        _, vectors = np.linalg.eigh(normalised_laplacian(sub)[0])
        for m in range(modes):
            v = vectors[:, min(m, nodes.size - 1)]
            theta[nodes, m] = oriented(v, tuple(key[nodes] for key in keys))
    return theta


@register("eigenpool")
class EigenPool(TopologyPooler):
    paper = "Ma et al., KDD 2019, https://arxiv.org/abs/1904.13107"
    reference = (
        "tgp: Θ, RED, CON and LIFT equal given the clusters, up to the "
        "eigenvector sign; clusters equal scikit-learn's on clear clusters "
        "(test_ref_eigenpool_bnpool.py)"
    )
    family = "one_over_k"
    revision = 1  # the sign's degree tie-break

    def __init__(
        self,
        in_channels: int,
        ratio: float = 0.5,
        avg_nodes: float = 0.0,
        num_modes: int = 5,
        singleton: str = "eigenvector",
    ):
        super().__init__(in_channels, ratio, avg_nodes)
        if num_modes < 1:
            raise ValueError(f"num_modes must be >= 1, got {num_modes}")
        if singleton not in SINGLETONS:
            raise ValueError(
                f"singleton must be one of {', '.join(SINGLETONS)}, got {singleton!r}"
            )
        self.num_modes = num_modes
        self.singleton = singleton

    @property
    def out_channels(self) -> int:
        return self.num_modes * self.in_channels

    def precompute(
        self, edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor
    ) -> dict[str, Tensor]:
        n, k = batch.numel(), self.num_clusters
        w = torch.ones(edge_index.size(1)) if edge_weight is None else edge_weight
        adj = np.zeros((n, n))
        if edge_index.numel():
            ei = edge_index.cpu().numpy()
            np.add.at(adj, (ei[0], ei[1]), w.detach().cpu().double().numpy())
        graph = batch.cpu().numpy()
        num_graphs = int(graph.max()) + 1 if n else 0
        cluster = np.empty(n, dtype=np.int64)
        theta = np.zeros((n, self.num_modes))
        for g in range(num_graphs):
            nodes = np.flatnonzero(graph == g)
            sub = adj[np.ix_(nodes, nodes)]
            labels = spectral_clusters(sub, k)
            cluster[nodes] = labels + g * k
            theta[nodes] = mode_coefficients(
                sub, labels, self.num_modes, self.singleton
            )
        device = edge_index.device
        cluster_t = torch.as_tensor(cluster, device=device)
        num = num_graphs * k
        ei, ew = cluster_connect(edge_index, edge_weight, cluster_t, num)
        ei, ew = degree_normalised(ei, ew, num)
        return {
            "cluster": cluster_t,
            "theta": torch.as_tensor(theta, dtype=torch.float32, device=device),
            "edge_index": ei,
            "edge_weight": ew,
            "batch": torch.arange(num_graphs, device=device).repeat_interleave(k),
        }

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None,
        batch: Tensor,
        topology: dict[str, Tensor] | None = None,
    ) -> PoolOutput:
        if topology is None:
            topology = self.precompute(edge_index, edge_weight, batch)
        cluster, theta = topology["cluster"], topology["theta"].to(x.dtype)
        num = topology["batch"].numel()
        # Row c holds mode 1's F features, then mode 2's, ...
        per_node = (theta.unsqueeze(-1) * x.unsqueeze(1)).reshape(x.size(0), -1)
        out = per_node.new_zeros(num, per_node.size(1)).index_add(0, cluster, per_node)
        info = {"cluster": cluster, "theta": theta}
        return PoolOutput(
            out,
            topology["edge_index"],
            topology["edge_weight"],
            topology["batch"],
            info=info,
        )

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, num_modes={self.num_modes}, "
            f"singleton={self.singleton}"
        )
