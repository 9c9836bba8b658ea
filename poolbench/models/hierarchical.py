"""The GNN every pooler is benchmarked in: MP blocks interleaved with pooling.

``blocks=[2, 1]`` means two MP layers, a pooler, one MP layer, then the global
readout and an MLP. ``blocks=[3]`` (or ``pooler=none``, the identity) is the
flat GNN with the same layers, so every pooler is compared on one backbone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from poolbench.models.mp import make_mp
from poolbench.models.readout import make_readout
from poolbench.pooling.base import Pooler

# (level, in_channels, avg_nodes) -> a pooler for that level
PoolerFactory = Callable[[int, int, float], Pooler]


@dataclass
class ModelOutput:
    """Logits ``[B, C]``, the poolers' named aux losses and pooled node counts."""

    logits: Tensor
    aux_loss: dict[str, Tensor] = field(default_factory=dict)
    pooled_nodes: list[int] = field(default_factory=list)


class HierarchicalGNN(nn.Module):
    """MP blocks with a pooler between consecutive blocks, readout, then an MLP.

    Args:
        in_channels: node feature size of the dataset.
        num_classes: C.
        blocks: MP layers per block; ``len(blocks) - 1`` pooling levels.
        make_pooler: builds the pooler of each level (unused for one block).
        avg_nodes: average graph size of the dataset; each level's pooler gets
            ``avg_nodes * ratio ** level`` to size itself.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        make_pooler: PoolerFactory | None,
        avg_nodes: float,
        blocks: list[int],
        mp: str = "gin",
        hidden: int = 64,
        readout: str | list[str] = "sum",
        mlp_hidden: int = 64,
        dropout: float = 0.0,
        pool_ratio: float = 0.5,
    ):
        super().__init__()
        if not blocks or min(blocks) < 1:
            raise ValueError("model.blocks needs at least one block of ≥1 MP layer")
        self.blocks = nn.ModuleList()
        self.poolers = nn.ModuleList()
        size = in_channels
        for level, depth in enumerate(blocks):
            layers = nn.ModuleList()
            for _ in range(depth):
                layers.append(make_mp(mp, size, hidden))
                size = hidden
            self.blocks.append(layers)
            if level < len(blocks) - 1:
                assert make_pooler is not None
                pooler = make_pooler(level, size, avg_nodes * pool_ratio**level)
                self.poolers.append(pooler)
                # EigenPool hands on modes x F features.
                size = pooler.out_channels
        levels = len(blocks) - 1
        self.readout = make_readout(readout, size, avg_nodes * pool_ratio**levels)
        # mlp_hidden=0: one linear layer after the readout (Bianchi et al.'s
        # GlobalAvgPool-Dense), otherwise Linear-ReLU-Dropout-Linear
        width = self.readout.out_channels
        self.head = (
            nn.Linear(width, num_classes)
            if mlp_hidden == 0
            else nn.Sequential(
                nn.Linear(width, mlp_hidden),
                nn.ReLU(),
                nn.Dropout(dropout),
                nn.Linear(mlp_hidden, num_classes),
            )
        )

    def train(self, mode: bool = True) -> HierarchicalGNN:
        """``nn.Module.train`` without its recursive walk, which the runner pays
        twice per epoch (train, then eval for validation): on small graphs the
        walk costs as much as a batch's gather. The module tree is fixed once
        built, so it is listed on the first call; if any module overrides
        ``train``, the ordinary walk runs instead."""
        tree = self.__dict__.get("_tree")
        if tree is None:
            tree = list(self.modules())
            plain = all(type(m).train is nn.Module.train for m in tree[1:])
            self.__dict__["_tree"] = tree = tree if plain else []
        if not tree:
            return super().train(mode)
        for module in tree:
            object.__setattr__(module, "training", mode)  # what Module.train sets
        return self

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None,
        batch: Tensor,
        num_graphs: int,
        topology: list[dict[str, Tensor]] | None = None,
    ) -> ModelOutput:
        """``topology`` holds each level's precomputed pooled topology, for
        :class:`~poolbench.pooling.base.TopologyPooler` levels only."""
        aux: dict[str, Tensor] = {}
        pooled_nodes: list[int] = []
        # The pooled graph's [B, K, K] block form, when a dense pooler offers it.
        dense_adj = None
        for level, layers in enumerate(self.blocks):
            for layer in layers:
                x = torch.relu(layer(x, edge_index, edge_weight, dense_adj=dense_adj))
            if level < len(self.poolers):
                if topology is not None:
                    out = self.poolers[level](
                        x, edge_index, edge_weight, batch, topology=topology[level]
                    )
                else:
                    out = self.poolers[level](x, edge_index, edge_weight, batch)
                x, edge_index, edge_weight, batch = (
                    out.x,
                    out.edge_index,
                    out.edge_weight,
                    out.batch,
                )
                dense_adj = out.info.get("dense_adj")
                pooled_nodes.append(x.size(0))
                for name, value in out.aux_loss.items():
                    aux[f"pool{level}/{name}"] = value
        # size= keeps graphs that pooling emptied (PyG 2895): rows stay aligned.
        h = self.readout(x, batch, num_graphs)
        return ModelOutput(self.head(h), aux, pooled_nodes)
