"""Top-K pooling (Gao & Ji 2019; Cangea et al. 2018), wrapping PyG's TopKPooling.

Paper: https://arxiv.org/abs/1905.05178

- SEL: score ``y = tanh(X p / ||p||)``; keep the ``ceil(ratio * N)`` top nodes
  of each graph, ``idx``.
- RED: ``X' = X[idx] * y[idx]`` (the gate lets gradients reach ``p``).
- CON: ``A' = A[idx, idx]``.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.nn.pool import TopKPooling

from poolbench.pooling.base import Pooler, PoolOutput
from poolbench.pooling.registry import register


def score_output(
    x: Tensor,
    edge_index: Tensor,
    edge_weight: Tensor | None,
    batch: Tensor,
    perm: Tensor,
    score: Tensor,
    num_nodes: int,
) -> PoolOutput:
    """PoolOutput of a score-based pooler from PyG's ``(x, ..., perm, score)``."""
    cluster = torch.full((num_nodes,), -1, dtype=torch.long, device=perm.device)
    cluster[perm] = torch.arange(perm.numel(), device=perm.device)
    info = {"cluster": cluster, "perm": perm, "score": score}
    return PoolOutput(x, edge_index, edge_weight, batch, info=info)


@register("topk")
class TopKPool(Pooler):
    paper = "Gao & Ji, ICML 2019, https://arxiv.org/abs/1905.05178"
    reference = "tgp: equal with copied weights (test_ref_score.py)"
    family = "score"
    trainable = True

    def __init__(
        self,
        in_channels: int,
        ratio: float = 0.5,
        avg_nodes: float = 0.0,
        nonlinearity: str = "tanh",
    ):
        super().__init__(in_channels, ratio, avg_nodes)
        # PyG reads a ratio >= 1 as a node count: 1.0 would keep one node.
        count_all = ratio if ratio < 1 else 2**31 - 1
        self.pool = TopKPooling(in_channels, ratio=count_all, nonlinearity=nonlinearity)

    def forward(
        self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor
    ) -> PoolOutput:
        out_x, ei, ew, b, perm, score = self.pool(x, edge_index, edge_weight, batch)
        return score_output(out_x, ei, ew, b, perm, score, x.size(0))
