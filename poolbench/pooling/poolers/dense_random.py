"""Dense random pooling, a control (Mesquita et al. 2020; Bianchi & Lachi 2023).

Papers: https://arxiv.org/abs/2010.11418 and https://arxiv.org/abs/2304.01575

- SEL: a fixed random ``S`` ``[B, N, K]``, K = ceil(ratio * avg_nodes): row i of
  every graph is ``softmax(T[i])`` for a table ``T`` ``[rows, K]`` of standard
  normal logits drawn from a fixed seed, grown on demand in chunks (each chunk
  from its own seed, so growing never changes earlier rows). S never changes
  between forward passes, epochs or devices; the same graph always gets it.
- RED: ``X' = S^T X`` ``[B, K, F]``.
- CON: ``A' = D^{-1/2} (S^T A S - diag) D^{-1/2}`` ``[B, K, K]``.
- Aux losses: none. Not trainable.

Every node is assigned with rows summing to 1 and RED is a sum, so the control
keeps the expressiveness conditions; it ignores features and topology.

Cannot cluster: S is random and fixed (a control).
"""

from __future__ import annotations

import torch
from torch import Tensor

from poolbench.pooling.base import SoftClusterPooler
from poolbench.pooling.registry import register

_CHUNK = 64


@register("dense_random")
class DenseRandomPool(SoftClusterPooler):
    paper = "Mesquita et al., NeurIPS 2020, https://arxiv.org/abs/2010.11418"
    reference = "control, no reference"
    family = "control"
    needs_dense_adj = False  # S ignores the graph
    trainable = False
    has_aux_loss = False
    # S is indexed by a node's position in its graph, so permuting the nodes
    # changes which random row each one gets: order dependence is the point.
    order_invariant = False

    def __init__(
        self,
        in_channels: int,
        ratio: float = 0.5,
        avg_nodes: float = 0.0,
        seed: int = 0,
    ):
        super().__init__(in_channels, ratio, avg_nodes, temp=None)
        self.seed = seed
        # Not persistent: the table is a function of the seed and K, rebuilt
        # on demand, and its length depends on the largest graph seen.
        self.register_buffer("table", torch.empty(0, self.num_clusters), False)

    def _logits(self, rows: int, device: torch.device) -> Tensor:
        if self.table.device != device:
            self.table = self.table.to(device)
        while self.table.size(0) < rows:
            chunk = self.table.size(0) // _CHUNK
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + chunk)
            block = torch.randn(_CHUNK, self.num_clusters, generator=gen)
            self.table = torch.cat([self.table, block.to(device)])
        return self.table[:rows]

    def assign(self, x: Tensor, adj: Tensor | None, mask: Tensor) -> Tensor:
        logits = self._logits(x.size(1), x.device)
        s = torch.softmax(logits, dim=-1).to(x.dtype)
        return s.unsqueeze(0) * mask.unsqueeze(-1).to(s.dtype)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, seed={self.seed}"
