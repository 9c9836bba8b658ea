"""What node- and community-level tasks share: one graph, trained full batch.

A "loader" is a list holding one :class:`WholeGraph`: the full graph plus the
mask of the nodes a pass is scored on (train, validation or test nodes). The
trainer iterates it like any loader, so one epoch is one step.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor

from poolbench.data.batching import concrete


@dataclass
class WholeGraph:
    """One graph as a batch of one, with the nodes a pass is scored on."""

    x: Tensor
    edge_index: Tensor
    edge_weight: Tensor | None
    y: Tensor
    mask: Tensor  # [N] bool: the nodes whose loss or score counts
    batch: Tensor  # [N] zeros: one graph

    num_graphs: int = 1

    @property
    def num_nodes(self) -> int:
        return self.x.size(0)

    @classmethod
    def of(cls, dataset, nodes: list[int] | None) -> WholeGraph:
        """The dataset's graph scored on ``nodes`` (None: every node)."""
        g = dataset.graph
        n = g.num_nodes
        mask = torch.ones(n, dtype=torch.bool)
        if nodes is not None:
            mask = torch.zeros(n, dtype=torch.bool)
            mask[torch.as_tensor(nodes, dtype=torch.long)] = True
        weight = getattr(g, "edge_weight", None)
        return cls(g.x, g.edge_index, weight, g.y.view(-1), mask, torch.zeros(n).long())

    def to(self, device: torch.device) -> WholeGraph:
        if self.x.device == concrete(device):
            return self
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        return replace(
            self,
            x=move(self.x),
            edge_index=move(self.edge_index),
            edge_weight=move(self.edge_weight),
            y=move(self.y),
            mask=move(self.mask),
            batch=move(self.batch),
        )
