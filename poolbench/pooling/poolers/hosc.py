"""Higher-order spectral clustering pooling, HoscPool (Duval & Malliaros, CIKM 2022).

Paper: https://arxiv.org/abs/2209.03473

- SEL: ``S = softmax(MLP(X))`` ``[B, N, K]``, K = ceil(ratio * avg_nodes).
- RED: ``X' = S^T X`` ``[B, K, F]``.
- CON: ``A' = D^{-1/2} (S^T A S - diag) D^{-1/2}`` ``[B, K, K]``.
- Aux losses: ``hosc = ((1 - alpha) * cut(A) + alpha * cut(M)) / K`` with the
  MinCut ratio ``cut(A) = -Tr(S^T A S) / Tr(S^T D_A S)`` and the triangle motif
  adjacency ``M = A (.) A^2``, nonzero only on the edges of A: it is computed
  there, with no ``[B, N, N]`` product; for the input graph each triangle
  is listed once and ``cut(M)`` sums each edge once, any other A counts its
  2-paths ``i -> k -> j``.
  ``ortho`` is ``mu`` times MinCut's orthogonality loss, or HOSC's
  column-norm balance when ``hosc_ortho``.

Deviations from tgp's HOSCPooling, which follow the authors' code instead:
tgp builds the motif matrix as ``A^3`` (walks, not triangles), and computes the
first-order cut from the pooled adjacency after its diagonal was zeroed, which
makes that term always 0. Here M counts triangles and the cut uses
``S^T A S`` before CON's post-processing.

Can cluster: its loss is a (higher-order) normalised cut of S plus a balance term; the
paper evaluates it on node clustering.
"""

from __future__ import annotations

from torch import Tensor

from poolbench.pooling.base import PaddedGraph, SoftClusterPooler
from poolbench.pooling.losses import (
    hosc_orthogonality_loss,
    mincut_from,
    motif_cut,
    orthogonality_from,
)
from poolbench.pooling.registry import register


@register("hosc")
class HOSCPool(SoftClusterPooler):
    paper = "Duval & Malliaros, CIKM 2022, https://arxiv.org/abs/2209.03473"
    reference = (
        "tgp: equal except the documented motif/cut fixes (test_ref_soft_clustering.py)"
    )
    can_cluster = True
    # The motif matrix lives on the edges of A (M = A (.) A^2): no dense A.
    needs_dense_adj = False

    def __init__(
        self,
        in_channels: int,
        ratio: float = 0.5,
        avg_nodes: float = 0.0,
        alpha: float = 0.5,
        mu: float = 0.1,
        hosc_ortho: bool = False,
        temp: float = 1.0,
    ):
        super().__init__(in_channels, ratio, avg_nodes, temp)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
        self.alpha = alpha
        self.mu = mu
        self.hosc_ortho = hosc_ortho

    def aux_losses(self, g: PaddedGraph) -> dict[str, Tensor]:
        k = g.s.size(-1)
        cut = ho_cut = g.s.new_zeros(())
        if self.alpha < 1:
            cut = mincut_from(g.sas, g.trace_sds())
        # The motif term enumerates 2-paths: skip it when unused.
        if self.alpha > 0:
            ho_cut = motif_cut(g.entries(), g.s_flat, g.batch, g.num_graphs)
        if self.hosc_ortho:
            ortho = hosc_orthogonality_loss(g.s, g.mask)
        else:
            ortho = orthogonality_from(g.ss)
        return {
            "hosc": ((1 - self.alpha) * cut + self.alpha * ho_cut) / k,
            "ortho": self.mu * ortho,
        }
