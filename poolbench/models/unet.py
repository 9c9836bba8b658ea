"""The node-level model: a Graph U-Net (Gao & Ji, ICML 2019) over any pooler.

Paper: https://arxiv.org/abs/1905.05178

Down: an MP layer, then per level a pooler and an MP layer on the pooled
graph. Up: per level, the coarse features are lifted back onto that level's
input nodes with the pooler's own LIFT (gUnpool for score-based poolers,
``S X'`` for dense ones, ``X'[cluster]`` for one-over-K), joined to the skip
features saved on the way down (``sum`` as in the paper, or ``concat``), and
passed through an MP layer on that level's graph. A linear layer classifies
each node.

``augment: true`` is the paper's connectivity augmentation: before each
pooling, the graph's adjacency becomes ``(A + I)^2`` without self-loops
(two-hop neighbours join), so score-based pooling keeps fewer nodes isolated.
Poolers that read only the topology see a fixed graph in every step, so their
pooled topology is computed once and reused.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch_geometric.utils import coalesce, remove_self_loops

from poolbench.models.mp import make_mp
from poolbench.pooling.base import Pooler, PoolOutput

SKIPS = ("sum", "concat")

# (level, in_channels, avg_nodes, ratio) -> the pooler of that level
LevelPoolerFactory = Callable[[int, int, float, float], Pooler]


@dataclass
class NodeOutput:
    """Logits ``[N, C]`` per node, the poolers' named aux losses, pooled sizes."""

    logits: Tensor
    aux_loss: dict[str, Tensor] = field(default_factory=dict)
    pooled_nodes: list[int] = field(default_factory=list)


def two_hop(edge_index: Tensor, edge_weight: Tensor | None, num_nodes: int):
    """``(A + I)^2`` without self-loops: the paper's augmented connectivity."""
    w = torch.ones(edge_index.size(1), device=edge_index.device)
    if edge_weight is not None:
        w = edge_weight.to(w.dtype)
    loops = torch.arange(num_nodes, device=edge_index.device)
    index = torch.cat([edge_index, torch.stack([loops, loops])], 1)
    values = torch.cat([w, torch.ones(num_nodes, device=w.device)])
    # indices built here, in range by construction: no invariant check (and
    # no warning from torch that it is skipped)
    a = torch.sparse_coo_tensor(
        index, values, (num_nodes, num_nodes), check_invariants=False
    ).coalesce()
    with warnings.catch_warnings():  # torch calls its sparse CSR path "beta"
        warnings.simplefilter("ignore", UserWarning)
        squared = torch.sparse.mm(a, a).coalesce()
    out_index, out_weight = remove_self_loops(squared.indices(), squared.values())
    return coalesce(out_index, out_weight, num_nodes)


class GraphUNet(nn.Module):
    """A Graph U-Net with ``depth`` pooling levels of any registered pooler.

    Args:
        in_channels: node feature size.
        num_classes: C.
        make_pooler: ``(level, in_channels, avg_nodes, ratio)`` -> the pooler.
        num_nodes: nodes of the graph (sizes the dense poolers' K per level).
        depth: pooling levels.
        ratios: share of nodes kept at each level (one per level).
        skip: ``sum`` (the paper) or ``concat`` of lifted and skip features.
        mp, hidden, dropout: the MP layers (``gcn`` in the paper), their
            width, and dropout on the input features.
        head_dropout: dropout before the classifier (None: ``dropout``). Gao
            & Ji drop input features only (keep rate 0.08), so their
            experiment sets 0.
        augment: the ``(A + I)^2`` connectivity before each pooling.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        make_pooler: LevelPoolerFactory,
        num_nodes: int,
        depth: int = 4,
        ratios: list[float] | None = None,
        skip: str = "sum",
        mp: str = "gcn",
        hidden: int = 64,
        dropout: float = 0.0,
        augment: bool = False,
        head_dropout: float | None = None,
    ):
        super().__init__()
        ratios = list(ratios) if ratios is not None else [0.5] * depth
        if depth < 1 or len(ratios) != depth:
            raise ValueError(
                f"model.ratios needs one ratio per level: depth {depth}, "
                f"{len(ratios)} ratios"
            )
        if skip not in SKIPS:
            raise ValueError(f"unknown model.skip {skip!r}; use {', '.join(SKIPS)}")
        self.skip, self.augment = skip, augment
        self.dropout = nn.Dropout(dropout)
        self.head_dropout = nn.Dropout(
            dropout if head_dropout is None else head_dropout
        )
        self.first = make_mp(mp, in_channels, hidden)
        self.poolers = nn.ModuleList()
        self.down = nn.ModuleList()
        self.to_pooled = nn.ModuleList()  # hidden -> what lift reads (EigenPool)
        self.up = nn.ModuleList()
        size = float(num_nodes)
        for level, ratio in enumerate(ratios):
            pooler = make_pooler(level, hidden, size, ratio)
            self.poolers.append(pooler)
            self.down.append(make_mp(mp, pooler.out_channels, hidden))
            self.to_pooled.append(
                nn.Identity()
                if pooler.out_channels == hidden
                else nn.Linear(hidden, pooler.out_channels)
            )
            joined = hidden * (2 if skip == "concat" else 1)
            self.up.append(make_mp(mp, joined, hidden))
            size *= ratio
        self.head = nn.Linear(hidden, num_classes)
        self._topologies: dict[int, dict] = {}

    def _pool(self, level: int, x, edge_index, edge_weight, batch) -> PoolOutput:
        pooler = self.poolers[level]
        if getattr(pooler, "precomputable", False):
            # one fixed graph: the topology of every level never changes
            if level not in self._topologies:
                self._topologies[level] = pooler.precompute(
                    edge_index, edge_weight, batch
                )
            return pooler(x, edge_index, edge_weight, batch, self._topologies[level])
        return pooler(x, edge_index, edge_weight, batch)

    def forward(self, x, edge_index, edge_weight, batch) -> NodeOutput:
        x = torch.relu(self.first(self.dropout(x), edge_index, edge_weight))
        graphs, outputs, skips, aux, pooled = [], [], [], {}, []
        for level in range(len(self.poolers)):
            if self.augment:
                edge_index, edge_weight = two_hop(edge_index, edge_weight, x.size(0))
            graphs.append((edge_index, edge_weight))
            skips.append(x)
            out = self._pool(level, x, edge_index, edge_weight, batch)
            outputs.append(out)
            edge_index, edge_weight, batch = out.edge_index, out.edge_weight, out.batch
            x = torch.relu(self.down[level](out.x, edge_index, edge_weight))
            pooled.append(out.x.size(0))
            for name, value in out.aux_loss.items():
                aux[f"pool{level}/{name}"] = value
        for level in reversed(range(len(self.poolers))):
            out = outputs[level]
            lifted = self.poolers[level].lift(self.to_pooled[level](x), out)
            joined = (
                lifted + skips[level]
                if self.skip == "sum"
                else torch.cat([lifted, skips[level]], dim=-1)
            )
            edge_index, edge_weight = graphs[level]
            x = torch.relu(self.up[level](joined, edge_index, edge_weight))
        return NodeOutput(self.head(self.head_dropout(x)), aux, pooled)
