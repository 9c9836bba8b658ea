"""The community-level model: MP layers, then one pooler whose S is the clustering.

As in DMoN (Tsitsulin et al. 2023) and the MinCut paper's clustering
experiment: the node features go through ``layers`` MP layers, dropout, and one
soft-clustering pooler with exactly K supernodes. Training minimises the
pooler's own auxiliary losses (no label is seen); the argmax of S over the
clusters is the community of each node.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from poolbench.models.mp import make_mp
from poolbench.pooling.base import Pooler

ACTIVATIONS = {"relu": torch.relu, "selu": torch.selu}


@dataclass
class CommunityOutput:
    """The soft assignment ``s`` ``[N, K]``, the pooler's named aux losses."""

    s: Tensor
    aux_loss: dict[str, Tensor] = field(default_factory=dict)
    pooled_nodes: list[int] = field(default_factory=list)


class CommunityGNN(nn.Module):
    """``layers`` MP layers of ``mp``, dropout, then ``pooler`` (K clusters).

    Args:
        in_channels: node feature size.
        make_pooler: builds the pooler for the channels entering it.
        mp, hidden, layers: the MP stack before the pooler (0 layers: the
            pooler reads the input features, as the baselines do).
        dropout: on the MP output, before the assignment is computed.
        activation: after each MP layer (``selu`` in DMoN's code).
    """

    def __init__(
        self,
        in_channels: int,
        make_pooler: Callable[[int], Pooler],
        mp: str = "gcn",
        hidden: int = 64,
        layers: int = 1,
        dropout: float = 0.0,
        activation: str = "relu",
    ):
        super().__init__()
        if layers < 0:
            raise ValueError("model layers must be ≥ 0")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}")
        sizes = [in_channels] + [hidden] * layers
        self.layers = nn.ModuleList(make_mp(mp, a, b) for a, b in zip(sizes, sizes[1:]))
        self.act = ACTIVATIONS[activation]
        self.dropout = nn.Dropout(dropout)
        self.pooler = make_pooler(sizes[-1])

    def forward(self, x, edge_index, edge_weight, batch) -> CommunityOutput:
        for layer in self.layers:
            x = self.act(layer(x, edge_index, edge_weight))
        out = self.pooler(self.dropout(x), edge_index, edge_weight, batch)
        k = int(out.x.size(0))
        if out.s is not None:
            s = out.s[out.info["mask"]]  # [N, K]: the real nodes of the one graph
        else:  # a hard clustering (a baseline): S is one-hot
            s = torch.nn.functional.one_hot(out.info["cluster"], k).float()
        return CommunityOutput(s, out.aux_loss, [k])
