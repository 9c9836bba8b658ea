"""Self-Attention Graph Pooling (Lee et al. 2019), wrapping PyG's SAGPooling.

Paper: https://arxiv.org/abs/1904.08082

- SEL: score ``y = tanh(GraphConv(X, A))`` ``[N]``; keep the ``ceil(ratio * N)``
  top-scored nodes of each graph, ``idx`` ``[K_total]``.
- RED: ``X' = X[idx] * y[idx]`` ``[K_total, F]`` (the gate lets gradients reach
  the scorer).
- CON: ``A' = A[idx, idx]`` (edge weights kept).
- No auxiliary loss.

Fix of PyG issue 9862: PyG's SAGPooling feeds the GNN score through a
``SelectTopK(1)`` that owns a learnable scalar ``w`` and ranks ``tanh(y * w/|w|)``;
once ``w`` turns negative (it can at init, or during training) the layer keeps
the *lowest*-scored nodes. The scalar adds nothing (its magnitude cancels), so we
replace that selector with :class:`RankTopK`, which ranks the GNN score itself
(as tgp's SAGPooling does). The GraphConv scorer ignores edge weights, as in
PyG and tgp.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch_geometric.nn.pool import SAGPooling
from torch_geometric.nn.pool.select import Select, SelectOutput
from torch_geometric.nn.resolver import activation_resolver

from poolbench.pooling.base import Pooler, PoolOutput
from poolbench.pooling.poolers.topk import score_output
from poolbench.pooling.registry import register
from poolbench.pooling.select import keep_top


class RankTopK(Select):
    """Top-``ceil(ratio * N)`` nodes per graph ranked by ``act(score)``, no weight.

    A drop-in for PyG's ``SelectTopK(1, ...)`` inside SAGPooling and ASAPooling,
    whose learnable scalar can flip the ranking (PyG 9862). ``act`` must be
    monotonically increasing so that the kept nodes are the top-scored ones.

    Shapes: ``score`` ``[N]`` or ``[N, 1]`` -> ``node_index`` ``[K_total]``.
    """

    def __init__(self, ratio: float, act: str | Callable | None = None):
        super().__init__()
        self.ratio = ratio
        self.act = (lambda t: t) if act is None else activation_resolver(act)

    def forward(self, score: Tensor, batch: Tensor | None = None) -> SelectOutput:
        score = self.act(score.view(-1))
        if batch is None:
            batch = score.new_zeros(score.size(0), dtype=torch.long)
        node_index = keep_top(score, self.ratio, batch)
        return SelectOutput(
            node_index=node_index,
            num_nodes=score.size(0),
            cluster_index=torch.arange(node_index.size(0), device=score.device),
            num_clusters=node_index.size(0),
            weight=score[node_index],
        )


@register("sag")
class SAGPool(Pooler):
    paper = "Lee et al., ICML 2019, https://arxiv.org/abs/1904.08082"
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
        self.pool = SAGPooling(in_channels, ratio=ratio, nonlinearity=nonlinearity)
        # Replace the selector with the sign-safe one (see the module docstring).
        self.pool.select = RankTopK(ratio, nonlinearity)

    def forward(
        self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor
    ) -> PoolOutput:
        out_x, ei, ew, b, perm, score = self.pool(x, edge_index, edge_weight, batch)
        return score_output(out_x, ei, ew, b, perm, score, x.size(0))
