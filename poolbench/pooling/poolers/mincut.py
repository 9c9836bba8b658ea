"""MinCut pooling (Bianchi, Grattarola & Alippi, ICML 2020).

Paper: https://arxiv.org/abs/1907.00481

- SEL: ``S = softmax(MLP(X))`` ``[B, N, K]``, K = ceil(ratio * avg_nodes).
- RED: ``X' = S^T X`` ``[B, K, F]``.
- CON: ``A' = D^{-1/2} (S^T A S - diag) D^{-1/2}`` ``[B, K, K]``.
- Aux losses: ``cut = -Tr(S^T A S) / Tr(S^T D S)`` and
  ``ortho = || S^T S / ||S^T S||_F - I / sqrt(K) ||_F``.
"""

from __future__ import annotations

from torch import Tensor

from poolbench.pooling.base import Pooler, PoolOutput
from poolbench.pooling.connect import dense_connect
from poolbench.pooling.dense import from_padded, to_padded
from poolbench.pooling.losses import mincut_loss, orthogonality_loss
from poolbench.pooling.reduce import dense_reduce
from poolbench.pooling.registry import register
from poolbench.pooling.select import DenseSelect


@register("mincut")
class MinCutPool(Pooler):
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
        cut_coeff: float = 1.0,
        ortho_coeff: float = 1.0,
        temp: float = 1.0,
    ):
        super().__init__(in_channels, ratio, avg_nodes)
        self.select = DenseSelect(in_channels, self.num_clusters, temp=temp)
        self.cut_coeff = cut_coeff
        self.ortho_coeff = ortho_coeff

    def forward(
        self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor
    ) -> PoolOutput:
        x_dense, adj, mask = to_padded(x, edge_index, edge_weight, batch)
        s = self.select(x_dense, mask)
        x_pool = dense_reduce(x_dense, s)
        adj_pool = dense_connect(adj, s, remove_loops=True, degree_norm=True)
        aux = {
            "cut": self.cut_coeff * mincut_loss(adj, s),
            "ortho": self.ortho_coeff * orthogonality_loss(s),
        }
        x_out, ei, ew, b = from_padded(x_pool, adj_pool)
        return PoolOutput(x_out, ei, ew, b, s=s, aux_loss=aux, info={"mask": mask})
