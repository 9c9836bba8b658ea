"""Just-balance pooling (Bianchi, "Simplifying clustering with GNNs", NLDL 2023).

Paper: https://arxiv.org/abs/2207.08779

- SEL: ``S = softmax(MLP(X))`` ``[B, N, K]``, K = ceil(ratio * avg_nodes).
- RED: ``X' = S^T X`` ``[B, K, F]``.
- CON: ``A' = D^{-1/2} (S^T A S - diag) D^{-1/2}`` ``[B, K, K]``.
- Aux loss: ``balance = -Tr(sqrt(S^T S)) / sqrt(N K)`` only; the cut is left
  to the message passing before the pooler.

tgp also offers a dataset transform that rescales A for the MP layers; that is
a model/data choice and is not part of this pooler.
"""

from __future__ import annotations

from torch import Tensor

from poolbench.pooling.base import Pooler, PoolOutput
from poolbench.pooling.connect import dense_connect
from poolbench.pooling.dense import from_padded, to_padded
from poolbench.pooling.losses import balance_loss
from poolbench.pooling.reduce import dense_reduce
from poolbench.pooling.registry import register
from poolbench.pooling.select import DenseSelect


@register("justbalance")
class JustBalancePool(Pooler):
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
        balance_coeff: float = 1.0,
        temp: float = 1.0,
    ):
        super().__init__(in_channels, ratio, avg_nodes)
        self.select = DenseSelect(in_channels, self.num_clusters, temp=temp)
        self.balance_coeff = balance_coeff

    def forward(
        self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor
    ) -> PoolOutput:
        x_dense, adj, mask = to_padded(x, edge_index, edge_weight, batch)
        s = self.select(x_dense, mask)
        x_pool = dense_reduce(x_dense, s)
        adj_pool = dense_connect(adj, s, remove_loops=True, degree_norm=True)
        aux = {"balance": self.balance_coeff * balance_loss(s, mask)}
        x_out, ei, ew, b = from_padded(x_pool, adj_pool)
        return PoolOutput(x_out, ei, ew, b, s=s, aux_loss=aux, info={"mask": mask})
