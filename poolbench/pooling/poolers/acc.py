"""Asymmetric Cheeger cut pooling, the pooler of TVGNN (Hansen & Bianchi, ICML 2023).

Paper: https://arxiv.org/abs/2211.06218

- SEL: ``S = softmax(MLP(X))`` ``[B, N, K]``, K = ceil(ratio * avg_nodes).
- RED: ``X' = S^T X`` ``[B, K, F]``.
- CON: ``A' = D^{-1/2} (S^T A S - diag) D^{-1/2}`` ``[B, K, K]``.
- Aux losses: ``totvar = sum_ij a_ij ||S_i - S_j||_1 / 2 nnz(A)`` (graph total
  variation) and ``balance``, the asymmetric norm of each column of S around
  its ``floor(N / K)``-th largest value, rescaled to ``[0, 1]``.

The paper's GTVConv message-passing layer is a model choice, not part of the
pooler, and is not included.

Can cluster: its loss is the asymmetric Cheeger cut (total variation plus balance), a
graph-partitioning objective that TVGNN trains alone for node clustering.
"""

from __future__ import annotations

from torch import Tensor

from poolbench.pooling.base import PaddedGraph, SoftClusterPooler
from poolbench.pooling.losses import asym_norm_from, totvar_loss_edges
from poolbench.pooling.registry import register


@register("acc")
class AsymCheegerCutPool(SoftClusterPooler):
    paper = "Hansen & Bianchi, ICML 2023, https://arxiv.org/abs/2211.06218"
    reference = "tgp: equal with copied weights (test_ref_soft_clustering.py)"
    can_cluster = True
    # The total variation is a sum over the edges: no dense A.
    needs_dense_adj = False

    def __init__(
        self,
        in_channels: int,
        ratio: float = 0.5,
        avg_nodes: float = 0.0,
        totvar_coeff: float = 1.0,
        balance_coeff: float = 1.0,
        temp: float = 1.0,
    ):
        super().__init__(in_channels, ratio, avg_nodes, temp)
        self.totvar_coeff = totvar_coeff
        self.balance_coeff = balance_coeff

    def aux_losses(self, g: PaddedGraph) -> dict[str, Tensor]:
        return {
            "totvar": self.totvar_coeff
            * totvar_loss_edges(g.entries(), g.s_flat, g.num_graphs),
            "balance": self.balance_coeff * asym_norm_from(g.s_flat, g.batch, g.groups),
        }
