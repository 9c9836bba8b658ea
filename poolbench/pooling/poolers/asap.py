"""Adaptive Structure Aware Pooling (Ranjan et al. 2020), wrapping PyG's ASAPooling.

Paper: https://arxiv.org/abs/1911.07979

- SEL: every node ``i`` gathers its 1-hop ego-net (self-loop added) with
  master-query attention ``S_ji = softmax_j(att([max_j lin(x_j), x_j]))``
  ``[N, N]`` sparse; cluster features ``X_c = S^T X`` ``[N, F]``; fitness
  ``phi = sigmoid(LEConv(X_c, A))`` ``[N]``; keep the ``ceil(ratio * N)``
  fittest clusters of each graph, ``idx`` ``[K_total]``.
- RED: ``X' = X_c[idx] * phi[idx]`` ``[K_total, F]``.
- CON: ``A' = S[:, idx]^T A S[:, idx]`` without self-loops. As in PyG, the pooled
  edges carry weights only when the input had edge weights.
- No auxiliary loss.

Fixes: PyG ranks ``phi`` through a ``SelectTopK(1)`` that owns a scalar weight
which never receives a gradient and whose sign is random at init; a negative
sign keeps the *least* fit clusters (the SAGPool bug of PyG 9862). We use
:class:`~poolbench.pooling.poolers.sag.RankTopK` instead. PyG 2.8.1 runs on core
torch sparse tensors (no torch_sparse) and accepts edge weights (PyG 3466).

Difference from tgp's ASAPooling: tgp connects ``A[idx, idx]`` and passes edge
weights to LEConv; we keep PyG's (and the paper's) ``S^T A S``.
"""

from __future__ import annotations

from torch import Tensor
from torch_geometric.nn.pool import ASAPooling

from poolbench.pooling.base import Pooler, PoolOutput
from poolbench.pooling.poolers.sag import RankTopK
from poolbench.pooling.poolers.topk import score_output
from poolbench.pooling.registry import register


@register("asap")
class ASAPool(Pooler):
    family = "score"
    trainable = True

    def __init__(
        self,
        in_channels: int,
        ratio: float = 0.5,
        avg_nodes: float = 0.0,
        dropout: float = 0.0,
        negative_slope: float = 0.2,
        add_self_loops: bool = False,
    ):
        super().__init__(in_channels, ratio, avg_nodes)
        self.pool = ASAPooling(
            in_channels,
            ratio=ratio,
            dropout=dropout,
            negative_slope=negative_slope,
            add_self_loops=add_self_loops,
        )
        self.pool.select = RankTopK(ratio)

    def forward(
        self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor
    ) -> PoolOutput:
        # PyG does not return the fitness of the kept clusters; read it off the
        # selector's output for info["score"].
        kept: list[Tensor] = []
        hook = self.pool.select.register_forward_hook(
            lambda _m, _i, out: kept.append(out.weight)
        )
        try:
            out_x, ei, ew, b, perm = self.pool(x, edge_index, edge_weight, batch)
        finally:
            hook.remove()
        return score_output(out_x, ei, ew, b, perm, kept[0], x.size(0))
