"""The global readout: one vector per graph from the last level's nodes.

``model.readout`` names it. Papers vary it, so the learned ones PyG ships are
here next to the fixed sums:

- ``sum``, ``mean``, ``max``: ``global_*_pool`` (no parameters);
- ``attention``: ``sum_i softmax_i(gate(x_i)) x_i`` (PyG
  ``AttentionalAggregation`` with a linear gate; Li et al. 2016);
- ``gated``: the same with the values passed through a linear layer and ReLU
  first, ``sum_i softmax_i(gate(x_i)) relu(W x_i)`` (the gated readout of Li
  et al.'s GGNN);
- ``set2set``: ``Set2Set`` with 3 processing steps (Vinyals et al. 2016),
  ``2F`` features;
- ``sort``: ``SortAggregation`` (SortPool, Zhang et al. 2018): the ``k``
  nodes with the largest last feature, concatenated, ``k F`` features;
- ``gmt``: ``GraphMultisetTransformer`` (Baek et al. 2021) with 4 heads,
  ``F`` features;
- several joined by ``+`` (``sum+mean+max``) or given as a list: their
  outputs concatenated.

``sort`` and ``gmt`` need a number of nodes ``k``: it is derived from the data
as ``ceil`` of the average node count at the readout (sort keeps about the
average graph whole, as DGCNN sizes ``k`` from the node-count distribution)
and a quarter of it for GMT's seeds (its pooling ratio 0.25), at least 1.
Every readout is given the number of graphs, so graphs that pooling emptied
keep their row (PyG 2895).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch_geometric.nn import aggr, global_add_pool, global_max_pool, global_mean_pool

FIXED = {"sum": global_add_pool, "mean": global_mean_pool, "max": global_max_pool}
LEARNED = ("attention", "gated", "set2set", "sort", "gmt")
NAMES = (*FIXED, *LEARNED)


class FixedReadout(nn.Module):
    def __init__(self, name: str, channels: int):
        super().__init__()
        self.name, self.out_channels = name, channels
        self.pool = FIXED[name]

    def forward(self, x: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
        return self.pool(x, batch, size=num_graphs)


class AggregationReadout(nn.Module):
    """A PyG aggregation module called with ``dim_size = num_graphs``."""

    def __init__(self, module: aggr.Aggregation, out_channels: int):
        super().__init__()
        self.aggr, self.out_channels = module, out_channels

    def forward(self, x: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
        return self.aggr(x, batch, dim_size=num_graphs)


class ConcatReadout(nn.Module):
    def __init__(self, parts: list[nn.Module]):
        super().__init__()
        self.parts = nn.ModuleList(parts)
        self.out_channels = sum(p.out_channels for p in parts)

    def forward(self, x: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
        return torch.cat([p(x, batch, num_graphs) for p in self.parts], dim=-1)


def _one(name: str, channels: int, avg_nodes: float) -> nn.Module:
    k = max(1, math.ceil(avg_nodes))
    if name in FIXED:
        return FixedReadout(name, channels)
    if name == "attention":
        gate = nn.Linear(channels, 1)
        return AggregationReadout(aggr.AttentionalAggregation(gate), channels)
    if name == "gated":
        gate = nn.Linear(channels, 1)
        values = nn.Sequential(nn.Linear(channels, channels), nn.ReLU())
        return AggregationReadout(aggr.AttentionalAggregation(gate, values), channels)
    if name == "set2set":
        return AggregationReadout(
            aggr.Set2Set(channels, processing_steps=3), 2 * channels
        )
    if name == "sort":
        return AggregationReadout(aggr.SortAggregation(k), k * channels)
    if name == "gmt":
        seeds = max(1, math.ceil(k / 4))
        module = aggr.GraphMultisetTransformer(channels, k=seeds, heads=4)
        return AggregationReadout(module, channels)
    raise ValueError(f"unknown readout {name!r}; use {', '.join(NAMES)} or a+b")


def readout_names(spec: str | list[str]) -> list[str]:
    """The readouts named by ``spec``: ``"sum"``, ``"sum+mean"``, ``[sum, mean]``."""
    parts = (
        spec
        if isinstance(spec, list | tuple)
        else str(spec).replace(",", "+").split("+")
    )
    names = [str(p).strip() for p in parts if str(p).strip()]
    if not names:
        raise ValueError("model.readout is empty")
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        raise ValueError(
            f"unknown readout {', '.join(unknown)}; use {', '.join(NAMES)} or a+b"
        )
    return names


def make_readout(spec: str | list[str], channels: int, avg_nodes: float) -> nn.Module:
    """A readout module ``(x [N, F], batch [N], num_graphs) -> [B, out_channels]``.

    ``avg_nodes`` is the average node count of the graphs reaching it.
    """
    names = readout_names(spec)
    parts = [_one(n, channels, avg_nodes) for n in names]
    return parts[0] if len(parts) == 1 else ConcatReadout(parts)
