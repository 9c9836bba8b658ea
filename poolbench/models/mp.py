"""Message-passing layers, all called as ``layer(x, edge_index, edge_weight)``.

Pooled graphs carry edge weights (S^T A S is weighted), so every layer here
uses them. PyG's GINConv ignores weights, hence the small weighted GIN below,
which on a dense pooled graph computes exactly DenseGINConv.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import GCNConv, GraphConv, MessagePassing

MP_KINDS = ("gin", "gcn", "graphconv", "mlp")
# 1-WL expressive MP layers (Xu et al. 2019): used for the expressiveness verdict.
WL_EXPRESSIVE = {"gin", "graphconv"}


class WeightedGINConv(MessagePassing):
    """GIN with edge weights: ``MLP((1 + eps) x_i + sum_j w_ij x_j)``."""

    def __init__(self, in_channels: int, out_channels: int, train_eps: bool = True):
        super().__init__(aggr="add")
        self.mlp = nn.Sequential(
            nn.Linear(in_channels, out_channels),
            nn.ReLU(),
            nn.Linear(out_channels, out_channels),
        )
        self.eps = nn.Parameter(torch.zeros(1)) if train_eps else None

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None):
        agg = self.propagate(edge_index, x=x, edge_weight=edge_weight)
        eps = self.eps if self.eps is not None else 0.0
        return self.mlp((1 + eps) * x + agg)

    def message(self, x_j: Tensor, edge_weight: Tensor | None) -> Tensor:
        return x_j if edge_weight is None else edge_weight.view(-1, 1) * x_j


class NodeMLP(nn.Module):
    """The structure-agnostic layer of Errica et al. 2020: ignores the edges."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.lin = nn.Linear(in_channels, out_channels)

    def forward(self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None = None):
        return self.lin(x)


def make_mp(kind: str, in_channels: int, out_channels: int) -> nn.Module:
    if kind == "gin":
        return WeightedGINConv(in_channels, out_channels)
    if kind == "gcn":
        return GCNConv(in_channels, out_channels)
    if kind == "graphconv":
        return GraphConv(in_channels, out_channels)
    if kind == "mlp":
        return NodeMLP(in_channels, out_channels)
    raise ValueError(f"unknown MP layer {kind!r}; use one of {', '.join(MP_KINDS)}")
