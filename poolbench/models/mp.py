"""Message-passing layers, all called as ``layer(x, edge_index, edge_weight)``.

Pooled graphs carry edge weights (S^T A S is weighted), so every layer here
uses them. PyG's GINConv ignores weights, hence the small weighted GIN below,
which on a dense pooled graph computes exactly DenseGINConv.

A dense pooler's output is a complete K x K graph per example: its sparse form
has B K^2 edges, and gathering, weighting and scattering them costs about ten
times one batched matrix product over the ``[B, K, K]`` block form. Layers
therefore also accept ``dense_adj`` (that block form, when the pooler hands it
over, see :func:`block_adjacency`) and aggregate with it; GCN has no such path
and always uses the edges. Both paths give the same sums (tested).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import GCNConv, GraphConv
from torch_geometric.utils import scatter

from poolbench.pooling import dense
from poolbench.pooling.aggregate import dense_aggregate, edge_aggregate

MP_KINDS = ("gin", "gcn", "graphconv", "mlp", "gcs")
# 1-WL expressive MP layers (Xu et al. 2019): used for the expressiveness verdict.
WL_EXPRESSIVE = {"gin", "graphconv"}


class WeightedGINConv(nn.Module):
    """GIN with edge weights: ``MLP((1 + eps) x_i + sum_j w_ij x_j)``."""

    def __init__(self, in_channels: int, out_channels: int, train_eps: bool = True):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(in_channels, out_channels),
            nn.ReLU(),
            nn.Linear(out_channels, out_channels),
        )
        self.eps = nn.Parameter(torch.zeros(1)) if train_eps else None

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        dense_adj: Tensor | None = None,
    ):
        if dense_adj is not None:
            agg = dense_aggregate(x, dense_adj)
        else:
            agg = edge_aggregate(x, edge_index, edge_weight)
        eps = self.eps if self.eps is not None else 0.0
        return self.mlp((1 + eps) * x + agg)


class WeightedGraphConv(GraphConv):
    """PyG's GraphConv (sum aggregation) with the block-form path."""

    def forward(self, x, edge_index, edge_weight=None, dense_adj=None):
        if dense_adj is None or self.aggr != "add":
            return super().forward(x, edge_index, edge_weight)
        return self.lin_rel(dense_aggregate(x, dense_adj)) + self.lin_root(x)


class EdgeGCNConv(GCNConv):
    """PyG's GCNConv; its normalisation is defined on the edges, so it ignores
    ``dense_adj`` (a block form without the self-loops GCN adds).

    On one big graph with over half of its N^2 entries stored, no self-loops
    (a dense pooler's output inside a Graph U-Net: 1354^2 edges at Cora's
    second level) it computes the same ``D^-1/2 (A + I) D^-1/2 X W + b``
    through the ``[N, N]`` matrix: the edge path's ``[E, F]`` messages took
    most of that model's time and gigabytes of memory. Equal to PyG's (tested).
    """

    def forward(self, x, edge_index, edge_weight=None, dense_adj=None):
        n = x.size(0)
        plain = self.normalize and self.add_self_loops and not self.improved
        if (
            plain
            and not self.cached
            and dense.is_dense_graph(edge_index.size(1), n)
            and not bool((edge_index[0] == edge_index[1]).any())
        ):
            return self._dense_forward(x, edge_index, edge_weight)
        return super().forward(x, edge_index, edge_weight)

    def _dense_forward(self, x, edge_index, edge_weight):
        n = x.size(0)
        source, target = edge_index  # PyG's default flow: source -> target
        # incoming[i, j]: the weight of j -> i, plus GCN's unit self-loops
        incoming = dense.dense_adjacency(target, source, edge_weight, n, x)
        incoming = incoming + torch.eye(n, dtype=x.dtype, device=x.device)
        inv = incoming.sum(1).pow(-0.5)
        inv = inv.masked_fill(torch.isinf(inv), 0.0)
        out = inv.unsqueeze(1) * (incoming @ (inv.unsqueeze(1) * self.lin(x)))
        return out if self.bias is None else out + self.bias


class NodeMLP(nn.Module):
    """The structure-agnostic layer of Errica et al. 2020: ignores the edges."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.lin = nn.Linear(in_channels, out_channels)

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        dense_adj: Tensor | None = None,
    ):
        return self.lin(x)


class GraphConvSkip(nn.Module):
    """``D^{-1/2} A D^{-1/2} X W + X V + b``: the MP layer of Bianchi et al.

    Spektral's GraphConvSkip, used in MinCutPool's graph classification code
    (FilippoMB/Spectral-Clustering-with-Graph-Neural-Networks-for-Graph-Pooling)
    and equal in form to the Chebyshev layer with K=1 named in the synthetic
    benchmark's README. The symmetric normalisation (no self-loops) is computed
    from the edge weights the layer receives, at every level; like GCN it has
    no block-form path and ignores ``dense_adj``.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.rel = nn.Linear(in_channels, out_channels, bias=False)
        self.root = nn.Linear(in_channels, out_channels)

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        dense_adj: Tensor | None = None,
    ):
        row, col = edge_index
        w = x.new_ones(row.numel()) if edge_weight is None else edge_weight
        deg = scatter(w, row, dim=0, dim_size=x.size(0), reduce="sum")
        inv = deg.clamp(min=1e-12).pow(-0.5) * (deg > 0)
        norm = inv[row] * w * inv[col]
        agg = scatter(norm.view(-1, 1) * x[col], row, dim=0, dim_size=x.size(0))
        return self.rel(agg) + self.root(x)


def make_mp(kind: str, in_channels: int, out_channels: int) -> nn.Module:
    if kind == "gin":
        return WeightedGINConv(in_channels, out_channels)
    if kind == "gcn":
        return EdgeGCNConv(in_channels, out_channels)
    if kind == "graphconv":
        return WeightedGraphConv(in_channels, out_channels)
    if kind == "mlp":
        return NodeMLP(in_channels, out_channels)
    if kind == "gcs":
        return GraphConvSkip(in_channels, out_channels)
    raise ValueError(f"unknown MP layer {kind!r}; use one of {', '.join(MP_KINDS)}")
