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
"""

from __future__ import annotations

from torch import Tensor

from poolbench.pooling.base import Pooler, PoolOutput
from poolbench.pooling.connect import dense_connect
from poolbench.pooling.dense import from_padded, to_padded
from poolbench.pooling.losses import cluster_loss, orthogonality_loss, spectral_loss
from poolbench.pooling.reduce import dense_reduce
from poolbench.pooling.registry import register
from poolbench.pooling.select import DenseSelect


@register("dmon")
class DMoNPool(Pooler):
    family = "soft_clustering"
    is_dense = True
    trainable = True
    has_aux_loss = True
    expressive = True

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
        super().__init__(in_channels, ratio, avg_nodes)
        self.select = DenseSelect(in_channels, self.num_clusters, temp=temp)
        self.spectral_coeff = spectral_coeff
        self.cluster_coeff = cluster_coeff
        self.ortho_coeff = ortho_coeff

    def forward(
        self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor
    ) -> PoolOutput:
        x_dense, adj, mask = to_padded(x, edge_index, edge_weight, batch)
        s = self.select(x_dense, mask)
        x_pool = dense_reduce(x_dense, s)
        adj_pool = dense_connect(adj, s, remove_loops=True, degree_norm=True)
        aux = {
            "spectral": self.spectral_coeff * spectral_loss(adj, s),
            "cluster": self.cluster_coeff * cluster_loss(s, mask),
            "ortho": self.ortho_coeff * orthogonality_loss(s),
        }
        x_out, ei, ew, b = from_padded(x_pool, adj_pool)
        return PoolOutput(x_out, ei, ew, b, s=s, aux_loss=aux, info={"mask": mask})
