"""Top-K pooling (Gao & Ji 2019; Cangea et al. 2018), wrapping PyG's TopKPooling.

Paper: https://arxiv.org/abs/1905.05178

- SEL: score ``y = tanh(X p / ||p||)`` (Cangea et al.; Gao & Ji's gPool uses
  a sigmoid: ``pooler.nonlinearity=sigmoid``); keep the ``ceil(ratio * N)``
  top nodes of each graph, ``idx``; equal scores by position in the graph.
- RED: ``X' = X[idx] * y[idx]`` (the gate lets gradients reach ``p``).
- CON: ``A' = A[idx, idx]``.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch_geometric.nn.pool import TopKPooling
from torch_geometric.nn.pool.select import SelectOutput

from poolbench.pooling.base import Pooler, PoolOutput
from poolbench.pooling.registry import register
from poolbench.pooling.select import keep_top


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
        # PyG's TopKPooling.forward, with its selection by keep_top: PyG's
        # unstable sort kept a batch-dependent node among tied scores.
        select = self.pool.select
        score = select.act((x * select.weight).sum(-1) / select.weight.norm(p=2))
        perm = keep_top(score, self.ratio, batch)
        kept = SelectOutput(
            node_index=perm,
            num_nodes=x.size(0),
            cluster_index=torch.arange(perm.numel(), device=x.device),
            num_clusters=perm.numel(),
            weight=score[perm],
        )
        con = self.pool.connect(kept, edge_index, edge_weight, batch)
        out_x = x[perm] * score[perm].unsqueeze(-1)
        return score_output(
            out_x, con.edge_index, con.edge_attr, con.batch, perm, score[perm],
            x.size(0),
        )  # fmt: skip
