"""The in-memory dataset every loader returns, with what the protocol needs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import torch
from torch_geometric.data import Data

from poolbench.errors import PoolbenchError


@dataclass
class GraphDataset:
    """A list of graphs plus the sizes injected into the model.

    Args:
        name: display name used in results (e.g. ``MUTAG``).
        graphs: one ``Data`` per graph with float ``x`` ``[N, F]``, ``edge_index``
            and ``y``: a scalar long class label, or real values ``[1, T]``.
        num_classes: C; labels lie in ``[0, C)``. 0 for real targets.
        params: what defines the data beyond its name (feature transform,
            generator settings); part of the fingerprint.
        target: ``classification`` or ``regression``: what ``y`` holds, which
            decides the graph task's loss and metrics.
        groups: optional group of each graph (e.g. its molecular scaffold), for
            splits that keep a group on one side.
    """

    name: str
    graphs: list[Data]
    num_classes: int
    params: dict = field(default_factory=dict)
    target: str = "classification"
    groups: list[str] | None = None

    def __post_init__(self) -> None:
        if not self.graphs:
            raise PoolbenchError(f"dataset {self.name} holds no graphs")
        x = self.graphs[0].x
        if x is None or x.dim() != 2 or x.size(1) == 0:
            raise PoolbenchError(
                f"dataset {self.name} loaded with empty node features; "
                "set dataset.features=degree or constant"
            )
        if self.target not in ("classification", "regression"):
            raise ValueError(f"unknown target kind {self.target!r}")
        if self.target == "classification" and self.num_classes < 2:
            raise PoolbenchError(f"dataset {self.name} has {self.num_classes} class")

    def __len__(self) -> int:
        return len(self.graphs)

    @property
    def num_features(self) -> int:
        return int(self.graphs[0].x.size(1))

    @property
    def labels(self) -> torch.Tensor:
        """One value per graph ``[G]``: the class, or the first real target."""
        return torch.stack([g.y.view(-1)[0] for g in self.graphs])

    @property
    def targets(self) -> torch.Tensor:
        """Real targets ``[G, T]`` (regression)."""
        return torch.stack([g.y.view(-1).float() for g in self.graphs])

    @property
    def num_outputs(self) -> int:
        """What the model predicts per graph: C logits, or T real values."""
        if self.target == "classification":
            return self.num_classes
        return int(self.graphs[0].y.numel())

    @property
    def avg_nodes(self) -> float:
        return sum(g.num_nodes for g in self.graphs) / len(self.graphs)

    @property
    def fingerprint(self) -> str:
        """Hash of the graphs' contents and the params: changes when the data does."""
        h = hashlib.sha1(repr(sorted(self.params.items())).encode())
        if self.target != "classification":  # classification keeps its old hash
            h.update(self.target.encode())
        for g in self.graphs:
            h.update(g.x.numpy().tobytes())
            h.update(g.edge_index.numpy().tobytes())
            h.update(g.y.numpy().tobytes())
        return h.hexdigest()[:12]


@dataclass
class NodeDataset:
    """One graph whose nodes carry the labels: node- and community-level tasks.

    Args:
        name: display name (e.g. ``Cora``).
        graph: ``Data`` with float ``x`` ``[N, F]``, ``edge_index`` and long
            node labels ``y`` ``[N]``.
        num_classes: C; labels lie in ``[0, C)``.
        params: what defines the data beyond its name; part of the fingerprint.
        public_split: the published train/validation/test nodes, if any.
    """

    name: str
    graph: Data
    num_classes: int
    params: dict = field(default_factory=dict)
    public_split: object | None = None  # a data.splits.Split of node indices

    def __post_init__(self) -> None:
        x = self.graph.x
        if x is None or x.dim() != 2 or x.size(1) == 0:
            raise PoolbenchError(f"dataset {self.name} has no node features")
        if self.graph.y is None or self.graph.y.numel() != x.size(0):
            raise PoolbenchError(f"dataset {self.name} needs one label per node")

    # What the graph-level machinery reads, for the one graph.
    @property
    def graphs(self) -> list[Data]:
        return [self.graph]

    def __len__(self) -> int:
        return 1

    @property
    def num_nodes(self) -> int:
        return int(self.graph.num_nodes)

    @property
    def num_features(self) -> int:
        return int(self.graph.x.size(1))

    @property
    def num_outputs(self) -> int:
        return self.num_classes

    @property
    def labels(self) -> torch.Tensor:
        """The node labels ``[N]``: splits stratify over nodes."""
        return self.graph.y.view(-1)

    @property
    def avg_nodes(self) -> float:
        return float(self.num_nodes)

    @property
    def fingerprint(self) -> str:
        h = hashlib.sha1(repr(sorted(self.params.items())).encode())
        h.update(b"node-level")
        for tensor in (self.graph.x, self.graph.edge_index, self.graph.y):
            h.update(tensor.numpy().tobytes())
        if self.public_split is not None:
            h.update(repr(self.public_split).encode())
        return h.hexdigest()[:12]
