"""No pooling: the identity, so ``pooler=none`` gives the flat GNN.

The model keeps every MP layer of the hierarchical backbone, so the flat
baseline has the same depth and width as the pooled models (a fair control).

- SEL: ``S = I_N``. RED: ``X' = X``. CON: ``A' = A``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from poolbench.pooling.base import Pooler, PoolOutput
from poolbench.pooling.registry import register


@register("none")
class NoPool(Pooler):
    paper = "identity (flat GNN)"
    reference = "tgp NoPool: equal (test_ref_one_over_k.py)"
    family = "none"
    expressive = True

    def forward(
        self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor
    ) -> PoolOutput:
        cluster = torch.arange(x.size(0), device=x.device)
        return PoolOutput(x, edge_index, edge_weight, batch, info={"cluster": cluster})
