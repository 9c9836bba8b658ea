"""Sparse random pooling, the control of Bianchi & Lachi (2023).

Paper: https://arxiv.org/abs/2304.01575 (the "Rand-sparse" baseline).

- SEL: keep ``ceil(ratio * N)`` nodes of each graph drawn uniformly at random
  without replacement, ``idx`` ``[K_total]``; nothing is learned.
- RED: ``X' = X[idx]`` ``[K_total, F]`` (no gate).
- CON: ``A' = A[idx, idx]`` (edge weights and any self-loops kept).
- No auxiliary loss.

The draw uses the global torch RNG of the input's device, so it is reproducible
under ``torch.manual_seed`` and differs from call to call (a fresh selection
per forward pass). Not as the authors' code, which fixes one random score per
node position at the start and gates the kept features by its softmax. It
depends on node order by design.
"""

from __future__ import annotations

import torch
from torch import Tensor

from poolbench.pooling.base import Pooler, PoolOutput
from poolbench.pooling.connect import cluster_connect
from poolbench.pooling.poolers.topk import score_output
from poolbench.pooling.registry import register
from poolbench.pooling.select import keep_top


@register("sparse_random")
class SparseRandomPool(Pooler):
    paper = "Bianchi & Lachi, NeurIPS 2023, https://arxiv.org/abs/2304.01575"
    reference = "control, no reference"
    family = "control"
    order_invariant = False

    def forward(
        self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor
    ) -> PoolOutput:
        # The top-k of i.i.d. uniform keys is a uniform random subset per graph.
        keys = torch.rand(x.size(0), device=x.device)
        perm = keep_top(keys, self.ratio, batch)
        cluster = torch.full((x.size(0),), -1, dtype=torch.long, device=x.device)
        cluster[perm] = torch.arange(perm.numel(), device=x.device)
        ei, ew = cluster_connect(
            edge_index, edge_weight, cluster, perm.numel(), remove_loops=False
        )
        if edge_weight is None:
            ew = None
        return score_output(x[perm], ei, ew, batch[perm], perm, keys[perm], x.size(0))
