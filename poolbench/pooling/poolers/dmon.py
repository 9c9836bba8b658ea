"""DMoN: deep modularity networks (Tsitsulin et al., JMLR 2023).

Paper: https://arxiv.org/abs/2006.16904

- SEL: ``S = softmax(MLP(X))`` ``[B, N, K]``, K = ceil(ratio * avg_nodes).
- RED: ``X' = S^T X`` ``[B, K, F]`` (no SELU on the output, unlike PyG's
  DMoNPooling; as in tgp, so the operator stays expressive).
- CON: ``A' = D^{-1/2} (S^T A S - diag) D^{-1/2}`` ``[B, K, K]``.
- Aux losses: ``spectral = -Tr(S^T (A - d d^T / 2m) S) / 2m``, ``cluster =
  sqrt(K) / N * ||sum_i S_i|| - 1`` and MinCut's ``ortho`` (coefficient 0 by
  default, as in tgp).

Every loss is computed per graph from that graph's own ``m`` and ``N`` and then
averaged, so it does not depend on the batch (PyG issues 8284 and 10149).

Can cluster: its spectral loss is the modularity of S and the collapse loss keeps
clusters balanced; the paper trains it for unsupervised community detection.
"""

from __future__ import annotations

from torch import Tensor

from poolbench.pooling.base import PaddedGraph, SoftClusterPooler
from poolbench.pooling.losses import cluster_from, orthogonality_from, spectral_from
from poolbench.pooling.registry import register


@register("dmon")
class DMoNPool(SoftClusterPooler):
    paper = "Tsitsulin et al., JMLR 2023, https://arxiv.org/abs/2006.16904"
    reference = "tgp and PyG: equal with copied weights (test_ref_soft_clustering.py)"
    can_cluster = True
    # Its losses read S^T A S and degrees only: A is never made dense.
    needs_dense_adj = False

    def __init__(
        self,
        in_channels: int,
        ratio: float = 0.5,
        avg_nodes: float = 0.0,
        spectral_coeff: float = 1.0,
        cluster_coeff: float = 1.0,
        ortho_coeff: float = 0.0,
        temp: float = 1.0,
    ):
        super().__init__(in_channels, ratio, avg_nodes, temp)
        self.spectral_coeff = spectral_coeff
        self.cluster_coeff = cluster_coeff
        self.ortho_coeff = ortho_coeff

    def aux_losses(self, g: PaddedGraph) -> dict[str, Tensor]:
        ca = g.graph_sum(g.s_flat * g.deg_flat.unsqueeze(-1))  # S^T d
        two_m = g.graph_sum(g.deg_flat)
        mass = g.graph_sum(g.s_flat)  # cluster sizes
        return {
            "spectral": self.spectral_coeff * spectral_from(g.sas, ca, two_m),
            "cluster": self.cluster_coeff * cluster_from(mass, g.num_nodes),
            "ortho": self.ortho_coeff * orthogonality_from(g.ss),
        }
