"""Structure-Feature based Graph Self-adaptive Pooling, GSAPool (Zhang et al. 2020).

Paper: https://arxiv.org/abs/2002.00848 (WWW 2020); authors' code:
github.com/psp3dcg/GSAPool.

- SEL: a structure score ``s_s = GCNConv(X, A)`` ``[N]`` and a feature score
  ``s_f = X w + b`` ``[N]`` mixed as ``y = tanh(alpha s_s + (1 - alpha) s_f)``;
  keep the ``ceil(ratio * N)`` top-scored nodes of each graph, ``idx``.
- RED: feature fusion first, ``H = GATConv(X, A)`` (one head, ``F -> F``), then
  ``X' = H[idx] * y[idx]`` ``[K_total, F]``; ``fusion: none`` uses ``H = X``.
- CON: ``A' = A[idx, idx]`` (edge weights kept).
- No auxiliary loss.

Choices the paper leaves open follow the authors' code: ``alpha = 0.6`` and a
GAT fusion are its defaults (``--alpha``, ``--feature_fusion_type``), the score
convolutions and the fusion read the topology without edge weights (the
authors never pass them), and the structure score is a GCNConv
(``--pooling_layer_type``). ``fusion: gcn`` offers the paper's other fusion.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import GATConv, GCNConv

from poolbench.pooling.base import Pooler, PoolOutput
from poolbench.pooling.connect import cluster_connect
from poolbench.pooling.poolers.topk import score_output
from poolbench.pooling.registry import register
from poolbench.pooling.select import keep_top

FUSIONS = ("gat", "gcn", "none")


@register("gsa")
class GSAPool(Pooler):
    paper = "Zhang et al., WWW 2020, https://arxiv.org/abs/2002.00848"
    reference = (
        "authors' code (no tgp/PyG twin); hand-checked scores and selection "
        "(test_gpb.py)"
    )
    family = "score"
    trainable = True

    def __init__(
        self,
        in_channels: int,
        ratio: float = 0.5,
        avg_nodes: float = 0.0,
        alpha: float = 0.6,
        fusion: str = "gat",
    ):
        super().__init__(in_channels, ratio, avg_nodes)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
        self.alpha = alpha
        self.structure = GCNConv(in_channels, 1)
        self.feature = nn.Linear(in_channels, 1)
        self.fusion = None
        if fusion == "gat":
            self.fusion = GATConv(in_channels, in_channels, heads=1)
        elif fusion == "gcn":
            self.fusion = GCNConv(in_channels, in_channels)

    def score(self, x: Tensor, edge_index: Tensor) -> Tensor:
        """``tanh(alpha s_s + (1 - alpha) s_f)`` ``[N]``."""
        s_s = self.structure(x, edge_index).view(-1)
        s_f = self.feature(x).view(-1)
        return torch.tanh(self.alpha * s_s + (1 - self.alpha) * s_f)

    def forward(
        self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor
    ) -> PoolOutput:
        n = x.size(0)
        y = self.score(x, edge_index)
        perm = keep_top(y, self.ratio, batch)
        h = x if self.fusion is None else self.fusion(x, edge_index)
        cluster = torch.full((n,), -1, dtype=torch.long, device=x.device)
        cluster[perm] = torch.arange(perm.numel(), device=x.device)
        ei, ew = cluster_connect(
            edge_index, edge_weight, cluster, perm.numel(), remove_loops=False
        )
        if edge_weight is None:
            ew = None
        out_x = h[perm] * y[perm].unsqueeze(-1)
        return score_output(out_x, ei, ew, batch[perm], perm, y[perm], n)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, alpha={self.alpha}"
