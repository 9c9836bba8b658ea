"""MinCut pooling (Bianchi, Grattarola & Alippi, ICML 2020).

Paper: https://arxiv.org/abs/1907.00481

- SEL: ``S = softmax(MLP(X))`` ``[B, N, K]``, K = ceil(ratio * avg_nodes).
- RED: ``X' = S^T X`` ``[B, K, F]``.
- CON: ``A' = D^{-1/2} (S^T A S - diag) D^{-1/2}`` ``[B, K, K]``.
- Aux losses: ``cut = -Tr(S^T A S) / Tr(S^T D S)`` and
  ``ortho = || S^T S / ||S^T S||_F - I / sqrt(K) ||_F``.

Can cluster: the cut loss is a relaxed normalised min-cut and the orthogonality loss
keeps clusters balanced and distinct; the paper trains it alone for unsupervised
clustering.
"""

from __future__ import annotations

from torch import Tensor

from poolbench.pooling.base import PaddedGraph, SoftClusterPooler
from poolbench.pooling.losses import mincut_from, orthogonality_from
from poolbench.pooling.registry import register


@register("mincut")
class MinCutPool(SoftClusterPooler):
    paper = "Bianchi, Grattarola & Alippi, ICML 2020, https://arxiv.org/abs/1907.00481"
    reference = "tgp: equal with copied weights (test_ref_soft_clustering.py)"
    can_cluster = True
    # Its losses read S^T A S and degrees only: A is never made dense.
    needs_dense_adj = False

    def __init__(
        self,
        in_channels: int,
        ratio: float = 0.5,
        avg_nodes: float = 0.0,
        cut_coeff: float = 1.0,
        ortho_coeff: float = 1.0,
        temp: float = 1.0,
    ):
        super().__init__(in_channels, ratio, avg_nodes, temp)
        self.cut_coeff = cut_coeff
        self.ortho_coeff = ortho_coeff

    def aux_losses(self, g: PaddedGraph) -> dict[str, Tensor]:
        return {
            "cut": self.cut_coeff * mincut_from(g.sas, g.trace_sds()),
            "ortho": self.ortho_coeff * orthogonality_from(g.ss),
        }
