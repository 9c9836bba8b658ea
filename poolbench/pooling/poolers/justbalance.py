"""Just-balance pooling (Bianchi, "Simplifying clustering with GNNs", NLDL 2023).

Paper: https://arxiv.org/abs/2207.08779

- SEL: ``S = softmax(MLP(X))`` ``[B, N, K]``, K = ceil(ratio * avg_nodes).
- RED: ``X' = S^T X`` ``[B, K, F]``.
- CON: ``A' = D^{-1/2} (S^T A S - diag) D^{-1/2}`` ``[B, K, K]``.
- Aux loss: ``balance = -Tr(sqrt(S^T S)) / sqrt(N K)`` only; the cut is left
  to the message passing before the pooler.

tgp also offers a dataset transform that rescales A for the MP layers; that is
a model/data choice and is not part of this pooler.

Can cluster: the balance loss alone, on top of message passing that smooths features
along edges, trains S to a partition; the paper's clustering experiments use exactly
this.
"""

from __future__ import annotations

from torch import Tensor

from poolbench.pooling.base import PaddedGraph, SoftClusterPooler
from poolbench.pooling.losses import balance_from
from poolbench.pooling.registry import register


@register("justbalance")
class JustBalancePool(SoftClusterPooler):
    paper = "Bianchi, NLDL 2023, https://arxiv.org/abs/2207.08779"
    reference = "tgp: equal with copied weights (test_ref_soft_clustering.py)"
    can_cluster = True
    # Its losses read S^T A S and degrees only: A is never made dense.
    needs_dense_adj = False

    def __init__(
        self,
        in_channels: int,
        ratio: float = 0.5,
        avg_nodes: float = 0.0,
        balance_coeff: float = 1.0,
        temp: float = 1.0,
    ):
        super().__init__(in_channels, ratio, avg_nodes, temp)
        self.balance_coeff = balance_coeff

    def aux_losses(self, g: PaddedGraph) -> dict[str, Tensor]:
        diag = g.ss.diagonal(dim1=-2, dim2=-1)
        return {"balance": self.balance_coeff * balance_from(diag, g.num_nodes)}
