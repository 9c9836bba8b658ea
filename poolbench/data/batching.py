"""The fast data path: a dataset packed once into flat tensors, batched by gathering.

PyG's ``DataLoader`` re-collates every batch from ``Data`` objects in Python
each step. Here the graphs are concatenated once (on the run's device) and a
batch is a vectorised gather of node and edge ranges, so an epoch costs a few
tensor ops per batch. :class:`PackedLoader` reproduces the batch composition,
order and random-number consumption of ``DataLoader(shuffle=..., generator=g)``
exactly, so a run gives the same numbers on either path (tested).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor
from torch_geometric.data import Data


def concrete(device: torch.device | str) -> torch.device:
    """``cuda`` as the ``cuda:i`` it means, so device comparisons are exact."""
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return device


@dataclass
class GraphBatch:
    """A batch in the form the model reads: what PyG's ``Batch`` offers us.

    ``topology`` holds one precomputed pooled topology per pooling level (see
    :mod:`poolbench.pooling.precompute`), or is ``None``.
    """

    x: Tensor
    edge_index: Tensor
    edge_weight: Tensor | None
    y: Tensor
    batch: Tensor
    num_graphs: int
    topology: list[dict[str, Tensor]] | None = None

    @property
    def num_nodes(self) -> int:
        return self.x.size(0)

    def to(self, device: torch.device) -> GraphBatch:
        # A loader placed with ``on(device)`` builds batches there: no copy.
        if self.x.device == concrete(device):
            return self
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        topology = None
        if self.topology is not None:
            topology = [{k: move(v) for k, v in t.items()} for t in self.topology]
        return GraphBatch(
            move(self.x),
            move(self.edge_index),
            move(self.edge_weight),
            move(self.y),
            move(self.batch),
            self.num_graphs,
            topology,
        )


@dataclass
class Segments:
    """Variable-length rows of many graphs stored back to back.

    ``ptr`` ``[G + 1]`` gives each graph's range; a CPU copy is kept so batch
    sizes are known on the host without a device sync.
    """

    ptr: Tensor
    ptr_cpu: Tensor

    @classmethod
    def from_counts(cls, counts: Tensor, device: torch.device) -> Segments:
        ptr = torch.zeros(counts.numel() + 1, dtype=torch.long)
        torch.cumsum(counts.long(), 0, out=ptr[1:])
        return cls(ptr.to(device), ptr)

    def to(self, device: torch.device) -> Segments:
        return Segments(self.ptr.to(device), self.ptr_cpu)

    def cpu_counts(self, ids_cpu: Tensor) -> Tensor:
        """Row count of each graph ``ids_cpu``, on the host."""
        return self.ptr_cpu[ids_cpu + 1] - self.ptr_cpu[ids_cpu]

    def gather(self, ids: Tensor, ids_cpu: Tensor) -> tuple[Tensor, Tensor, int]:
        """Row index of every row of graphs ``ids``, their counts and total.

        Returns ``index`` ``[R]`` (on the device), ``counts`` ``[B]`` and ``R``.
        """
        total = int(self.cpu_counts(ids_cpu).sum())
        counts = self.ptr[ids + 1] - self.ptr[ids]
        starts = torch.cumsum(counts, 0) - counts
        shift = torch.repeat_interleave(
            self.ptr[ids] - starts, counts, output_size=total
        )
        index = torch.arange(total, device=ids.device) + shift
        return index, counts, total


def offsets(counts: Tensor, repeats: Tensor, total: int) -> Tensor:
    """For each row, the first batch position of its graph's ``counts`` block."""
    starts = torch.cumsum(counts, 0) - counts
    return torch.repeat_interleave(starts, repeats, output_size=total)


def cut_topology(
    whole: dict[str, Tensor], node_ends: list[int], cuts: list[tuple[int, int]], n: int
) -> tuple[list[dict[str, Tensor]], list[int]]:
    """A precomputed topology of ``n`` graphs (one dict as ``precompute`` gives,
    see :class:`~poolbench.pooling.base.TopologyPooler`) cut into the batches
    ``cuts`` (graph ranges), ids renumbered from 0 in each: what the topology
    of each batch alone is. ``node_ends`` are the cumulative counts of the
    level's input nodes; the cumulative pooled counts are returned with the cuts.
    """
    graph = whole["batch"]
    pooled_ends = torch.bincount(graph, minlength=n).cumsum(0).tolist()
    edge_graph = graph[whole["edge_index"][0]]
    edge_ends = torch.bincount(edge_graph, minlength=n).cumsum(0).tolist()
    out = []
    for first, last in cuts:
        node0 = node_ends[first - 1] if first else 0
        pooled0 = pooled_ends[first - 1] if first else 0
        edge0 = edge_ends[first - 1] if first else 0
        edges = slice(edge0, edge_ends[last - 1])
        # per-input-node rows (cluster, NMF's s, EigenPool's theta) by node range
        cut = {
            key: rows[node0 : node_ends[last - 1]]
            for key, rows in whole.items()
            if key not in ("edge_index", "edge_weight", "batch")
        }
        if "cluster" in cut:
            cluster = cut["cluster"]
            cut["cluster"] = torch.where(cluster >= 0, cluster - pooled0, cluster)
        cut["edge_index"] = whole["edge_index"][:, edges] - pooled0
        cut["edge_weight"] = whole["edge_weight"][edges]
        cut["batch"] = graph[pooled0 : pooled_ends[last - 1]] - first
        out.append(cut)
    return out, pooled_ends


@dataclass
class PackedGraphs:
    """Every graph of a dataset in flat tensors on one device.

    ``edge_index`` holds node ids local to each graph, so a batch only adds the
    batch offsets. ``levels`` holds precomputed pooled topologies per level
    (:class:`poolbench.pooling.precompute.PackedTopology`), possibly empty.
    """

    x: Tensor
    edge_index: Tensor
    edge_weight: Tensor | None
    y: Tensor
    nodes: Segments
    edges: Segments
    device: torch.device
    levels: list = field(default_factory=list)
    # Copies on other devices, made once each; never pickled (CUDA state).
    _copies: dict = field(default_factory=dict, repr=False, compare=False)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_copies": {}}

    def to(self, device: torch.device) -> PackedGraphs:
        """This data on ``device``: moved once, then reused by every loader."""
        device = concrete(device)
        if device == self.device:
            return self
        key = str(device)
        if key not in self._copies:
            self._copies[key] = PackedGraphs(
                x=self.x.to(device),
                edge_index=self.edge_index.to(device),
                edge_weight=None
                if self.edge_weight is None
                else self.edge_weight.to(device),
                y=self.y.to(device),
                nodes=self.nodes.to(device),
                edges=self.edges.to(device),
                device=device,
                levels=[level.to(device) for level in self.levels],
            )
        return self._copies[key]

    @classmethod
    def from_graphs(cls, graphs: Sequence[Data], device: torch.device) -> PackedGraphs:
        node_counts = torch.tensor([g.num_nodes for g in graphs])
        edge_counts = torch.tensor([g.edge_index.size(1) for g in graphs])
        weights = [getattr(g, "edge_weight", None) for g in graphs]
        has_weight = any(w is not None for w in weights)
        if has_weight and any(w is None for w in weights):
            raise ValueError("either every graph has an edge_weight or none has")
        return cls(
            x=torch.cat([g.x for g in graphs]).to(device),
            edge_index=torch.cat([g.edge_index for g in graphs], 1).to(device),
            edge_weight=torch.cat(weights).to(device) if has_weight else None,
            y=torch.cat([g.y.view(-1) for g in graphs]).to(device),
            nodes=Segments.from_counts(node_counts, device),
            edges=Segments.from_counts(edge_counts, device),
            device=concrete(device),
        )

    def __len__(self) -> int:
        return self.y.numel()

    def batches(self, ids_cpu: Tensor, batch_size: int) -> list[GraphBatch]:
        """The graphs ``ids_cpu`` in batches of ``batch_size``, in order.

        One gather for the whole list, then each batch is a set of slices of
        it: an epoch costs a handful of tensor ops instead of two dozen per
        batch. The batches equal :meth:`batch` of each slice of ``ids_cpu``.
        """
        ids = ids_cpu.to(self.device, non_blocking=True)
        n = ids.numel()
        node_index, node_counts, num_nodes = self.nodes.gather(ids, ids_cpu)
        edge_rows, edge_counts, num_edges = self.edges.gather(ids, ids_cpu)
        position = torch.arange(n, device=self.device) % batch_size
        node_start = torch.cumsum(node_counts, 0) - node_counts
        # each graph's first node within its own batch
        local_start = (
            node_start - node_start[torch.arange(n, device=self.device) - position]
        )
        shift = torch.repeat_interleave(local_start, edge_counts, output_size=num_edges)
        # index_select: 2-3x faster than advanced indexing for these gathers
        edge_index = self.edge_index.index_select(1, edge_rows) + shift
        weight = (
            None
            if self.edge_weight is None
            else self.edge_weight.index_select(0, edge_rows)
        )
        graph_of_node = torch.repeat_interleave(
            position, node_counts, output_size=num_nodes
        )
        x, y = self.x.index_select(0, node_index), self.y.index_select(0, ids)
        # batch boundaries on the host, from the CPU copies: no device sync
        node_ends = self.nodes.cpu_counts(ids_cpu).cumsum(0).tolist()
        edge_ends = self.edges.cpu_counts(ids_cpu).cumsum(0).tolist()
        cuts = [(f, min(f + batch_size, n)) for f in range(0, n, batch_size)]
        levels, input_ends = [], node_ends
        for level in self.levels:  # level l pools level l-1's pooled nodes
            cut, input_ends = cut_topology(
                level.batch(ids, ids_cpu), input_ends, cuts, n
            )
            levels.append(cut)
        out = []
        for i, (first, last) in enumerate(cuts):
            a = node_ends[first - 1] if first else 0
            b = node_ends[last - 1]
            c = edge_ends[first - 1] if first else 0
            d = edge_ends[last - 1]
            topology = [level[i] for level in levels]
            out.append(
                GraphBatch(
                    x=x[a:b],
                    edge_index=edge_index[:, c:d],
                    edge_weight=None if weight is None else weight[c:d],
                    y=y[first:last],
                    batch=graph_of_node[a:b],
                    num_graphs=last - first,
                    topology=topology or None,
                )
            )
        return out

    def batch(self, ids_cpu: Tensor) -> GraphBatch:
        """The graphs ``ids_cpu`` (global ids, CPU) collated like PyG's ``Batch``."""
        ids = ids_cpu.to(self.device, non_blocking=True)
        node_index, node_counts, num_nodes = self.nodes.gather(ids, ids_cpu)
        edge_index_rows, edge_counts, num_edges = self.edges.gather(ids, ids_cpu)
        shift = offsets(node_counts, edge_counts, num_edges)
        edge_index = self.edge_index[:, edge_index_rows] + shift
        weight = None
        if self.edge_weight is not None:
            weight = self.edge_weight[edge_index_rows]
        graph_of_node = torch.repeat_interleave(
            torch.arange(ids.numel(), device=self.device),
            node_counts,
            output_size=num_nodes,
        )
        topology = [level.batch(ids, ids_cpu) for level in self.levels] or None
        return GraphBatch(
            x=self.x[node_index],
            edge_index=edge_index,
            edge_weight=weight,
            y=self.y[ids],
            batch=graph_of_node,
            num_graphs=ids.numel(),
            topology=topology,
        )


class PackedLoader:
    """Batches of ``index`` (graph ids into ``packed``), shuffled like PyG.

    ``DataLoader(shuffle=True, generator=g)`` draws, per epoch: one int64 base
    seed from ``g`` (the global RNG when ``g`` is None) when iteration starts,
    the order ``torch.randperm(n, generator=g)`` at the first batch, and one
    more ``randperm`` once exhausted. This loader draws the same numbers in the
    same order, so every other consumer of those generators (dropout included)
    sees the same state on both paths.
    """

    def __init__(
        self,
        packed: PackedGraphs,
        index: Sequence[int],
        batch_size: int,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
    ):
        self.packed = packed
        self.index = torch.as_tensor(list(index), dtype=torch.long)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator
        self._fixed: list[GraphBatch] | None = None

    def __len__(self) -> int:
        return -(-self.index.numel() // self.batch_size)

    def on(self, device: torch.device) -> PackedLoader:
        """The same loader building its batches on ``device`` (data moved once);
        itself when already there, so batches it keeps are reused."""
        if self.packed.device == concrete(device):
            return self
        placed = PackedLoader(
            self.packed.to(device), [], self.batch_size, self.shuffle, self.generator
        )
        placed.index = self.index
        return placed

    def __iter__(self) -> Iterator[GraphBatch]:
        # The DataLoader iterator's base seed: drawn even though nothing uses it.
        torch.empty((), dtype=torch.int64).random_(generator=self.generator)
        return self._batches()

    def _batches(self) -> Iterator[GraphBatch]:
        n = self.index.numel()
        if not self.shuffle:
            # The same batches every epoch (validation, test): built once and
            # kept, a copy of this split's graphs, for the loader's lifetime.
            if self._fixed is None:
                self._fixed = self.packed.batches(self.index, self.batch_size)
            yield from self._fixed
            return
        generator = self.generator
        if generator is None:  # RandomSampler seeds its own from the global RNG
            seed = int(torch.empty((), dtype=torch.int64).random_().item())
            generator = torch.Generator().manual_seed(seed)
        order = torch.randperm(n, generator=generator)
        yield from self.packed.batches(self.index[order], self.batch_size)
        torch.randperm(n, generator=generator)  # RandomSampler's tail draw
