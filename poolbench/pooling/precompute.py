"""Precomputed pooling: the fixed part of parameter-free poolers, once per dataset.

A precomputable pooler (``precomputable = True``: graclus,
graclus_complement, ndp, kmis, sep, eigenpool, spectral, nmf) reads only the
graph structure in SEL and CON, so it gives the
same pooled graph every epoch, fold and run. Its ``precompute`` returns that
part for a batch: the pooled ``edge_index``, ``edge_weight`` and ``batch``,
plus per-input-node rows RED needs: ``cluster`` (hard supernode ids), the
dense assignment ``s`` ``[N, K]`` (NMF) or mode coefficients ``theta``
``[N, H]`` (EigenPool). :func:`load_or_compute` runs ``precompute`` on each
graph alone, level after level (level ``l + 1`` pools level ``l``'s pooled
graph, which is fixed too), packs the results into flat tensors and caches them
on disk keyed by the dataset fingerprint, the pooler config, the number of
levels, the poolbench version and a hash of the algorithm's source. A batch
then takes its part by gathering (:meth:`PackedTopology.batch`), and the
pooler's ``forward(..., topology=...)`` only applies RED: a parameter-free
pooler costs a gather and a scatter per step.

For hard assignments this is exactly what ``precompute`` gives on the batch
(the algorithms never couple two graphs). NMF factorises each graph alone here,
while its on-the-fly path factorises the padded batch: the two agree to float
precision except where an adjacency has repeated singular values (then the
factorisation is not unique, see ``nmf.py``).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch_geometric.data import Data

import poolbench
from poolbench.data.batching import Segments, offsets, split_at

# Bump when the packed format changes.
FORMAT_VERSION = 2

# Keys of a precompute dict that describe the pooled graph, not the input nodes.
GRAPH_KEYS = ("edge_index", "edge_weight", "batch")


@dataclass
class PackedTopology:
    """One pooling level of every graph, stored back to back.

    ``node`` holds per-input-node rows ``[sum N_in, ...]``: ``cluster`` (each
    node's supernode, local to its graph, -1 where dropped), ``s`` or
    ``theta``. ``edge_index`` ``[2, sum E']`` holds the pooled edges, local
    too, with ``edge_weight`` ``[sum E']``. ``inputs``, ``pooled`` and
    ``edges`` give each graph's range of input nodes, supernodes and edges.
    """

    node: dict[str, Tensor]
    edge_index: Tensor
    edge_weight: Tensor
    inputs: Segments
    pooled: Segments
    edges: Segments

    @property
    def cluster(self) -> Tensor:
        return self.node["cluster"]

    def batch(self, ids: Tensor, ids_cpu: Tensor) -> dict[str, Tensor]:
        """The ``precompute`` dict of the batch of graphs ``ids``."""
        in_index, in_counts, in_ends = self.inputs.gather(ids, ids_cpu)
        _, out_counts, out_ends = self.pooled.gather(ids, ids_cpu)
        edge_rows, edge_counts, edge_ends = self.edges.gather(ids, ids_cpu)
        num_in, num_out, num_edges = in_ends[-1], out_ends[-1], edge_ends[-1]
        out = {key: rows[in_index] for key, rows in self.node.items()}
        if "cluster" in out:
            cluster = out["cluster"]
            shifted = cluster + offsets(out_counts, in_counts, num_in)
            out["cluster"] = torch.where(cluster >= 0, shifted, cluster)
        out["edge_index"] = self.edge_index[:, edge_rows] + offsets(
            out_counts, edge_counts, num_edges
        )
        out["edge_weight"] = self.edge_weight[edge_rows]
        out["batch"] = torch.repeat_interleave(
            torch.arange(ids.numel(), device=ids.device),
            out_counts,
            output_size=num_out,
        )
        return out

    def batches(
        self,
        ids: Tensor,
        ids_cpu: Tensor,
        position: Tensor,
        cuts: list[tuple[int, int]],
        inputs: tuple | None = None,
    ) -> tuple[list[dict[str, Tensor]], tuple]:
        """:meth:`batch` of each graph range ``cuts`` of ``ids``, for a whole
        epoch at once: one gather, ids renumbered from 0 within each batch
        (``position`` is each graph's place in its batch), then slices.

        ``inputs`` is the gather of this level's input rows when the caller
        has it (the graphs' nodes for the first level, the previous level's
        supernodes after); the gather of this level's supernodes is returned
        with the cuts, for the next level.
        """
        in_index, in_counts, in_ends = inputs or self.inputs.gather(ids, ids_cpu)
        pooled = self.pooled.gather(ids, ids_cpu)
        _, out_counts, out_ends = pooled
        edge_rows, edge_counts, edge_ends = self.edges.gather(ids, ids_cpu)
        num_in, num_out, num_edges = in_ends[-1], out_ends[-1], edge_ends[-1]
        # each graph's first supernode within its own batch
        out_start = torch.cumsum(out_counts, 0) - out_counts
        first = torch.arange(ids.numel(), device=ids.device) - position
        local = out_start - out_start.index_select(0, first)
        rows = {key: rows.index_select(0, in_index) for key, rows in self.node.items()}
        if "cluster" in rows:
            cluster = rows["cluster"]
            shifted = cluster + torch.repeat_interleave(
                local, in_counts, output_size=num_in
            )
            rows["cluster"] = torch.where(cluster >= 0, shifted, cluster)
        edge_index = self.edge_index.index_select(1, edge_rows)
        edge_index += torch.repeat_interleave(local, edge_counts, output_size=num_edges)
        edge_weight = self.edge_weight.index_select(0, edge_rows)
        graph = torch.repeat_interleave(position, out_counts, output_size=num_out)
        # batch boundaries on the host: no device sync
        parts = {key: split_at(r, in_ends, cuts) for key, r in rows.items()}
        parts["edge_index"] = split_at(edge_index, edge_ends, cuts, dim=1)
        parts["edge_weight"] = split_at(edge_weight, edge_ends, cuts)
        parts["batch"] = split_at(graph, out_ends, cuts)
        out = [{key: cut[i] for key, cut in parts.items()} for i in range(len(cuts))]
        return out, pooled

    def to(self, device: torch.device) -> PackedTopology:
        def seg(s: Segments) -> Segments:
            return Segments(s.ptr.to(device), s.ptr_cpu)

        return PackedTopology(
            {key: rows.to(device) for key, rows in self.node.items()},
            self.edge_index.to(device),
            self.edge_weight.to(device),
            seg(self.inputs),
            seg(self.pooled),
            seg(self.edges),
        )

    def state(self) -> dict[str, Tensor]:
        return {
            **{f"node/{key}": rows for key, rows in self.node.items()},
            "edge_index": self.edge_index,
            "edge_weight": self.edge_weight,
            "inputs": self.inputs.ptr_cpu,
            "pooled": self.pooled.ptr_cpu,
            "edges": self.edges.ptr_cpu,
        }

    @classmethod
    def from_state(cls, state: dict[str, Tensor]) -> PackedTopology:
        def seg(ptr: Tensor) -> Segments:
            return Segments(ptr, ptr)

        node = {k[5:]: v for k, v in state.items() if k.startswith("node/")}
        return cls(
            node,
            state["edge_index"],
            state["edge_weight"],
            seg(state["inputs"]),
            seg(state["pooled"]),
            seg(state["edges"]),
        )


def compute_topologies(poolers: list, graphs: list[Data]) -> list[PackedTopology]:
    """Each level's topology for every graph, computed one graph at a time (CPU)."""
    per_level: list[dict[str, list]] = [
        {"node": {}, "edge_index": [], "edge_weight": [], "n_in": [], "n_out": []}
        for _ in poolers
    ]
    with torch.no_grad():
        for g in graphs:
            edge_index = g.edge_index.cpu()
            edge_weight = getattr(g, "edge_weight", None)
            num_nodes = int(g.num_nodes)
            for pooler, acc in zip(poolers, per_level):
                batch = torch.zeros(num_nodes, dtype=torch.long)
                topo = pooler.precompute(edge_index, edge_weight, batch)
                pooled = int(topo["batch"].numel())
                weight = topo["edge_weight"]
                if weight is None:
                    weight = torch.ones(topo["edge_index"].size(1))
                for key, rows in topo.items():
                    if key not in GRAPH_KEYS:
                        acc["node"].setdefault(key, []).append(rows)
                acc["edge_index"].append(topo["edge_index"])
                acc["edge_weight"].append(weight)
                acc["n_in"].append(num_nodes)
                acc["n_out"].append(pooled)
                edge_index, edge_weight, num_nodes = topo["edge_index"], weight, pooled
    cpu = torch.device("cpu")
    levels = []
    for acc in per_level:
        edge_counts = torch.tensor([e.size(1) for e in acc["edge_index"]])
        levels.append(
            PackedTopology(
                node={key: torch.cat(rows) for key, rows in acc["node"].items()},
                edge_index=torch.cat(acc["edge_index"], 1),
                edge_weight=torch.cat(acc["edge_weight"]),
                inputs=Segments.from_counts(torch.tensor(acc["n_in"]), cpu),
                pooled=Segments.from_counts(torch.tensor(acc["n_out"]), cpu),
                edges=Segments.from_counts(edge_counts, cpu),
            )
        )
    return levels


def algorithm_hash(pooler_class: type) -> str:
    """Hash of the source the pooled topology depends on: the pooler's module
    and the shared SEL/CON code. Editing the algorithm invalidates the cache."""
    from poolbench.pooling import base, connect, select

    h = hashlib.sha1()
    for module in (sys.modules[pooler_class.__module__], base, connect, select):
        try:
            h.update(inspect.getsource(module).encode())
        except (OSError, TypeError):
            h.update(module.__name__.encode())
    return h.hexdigest()[:12]


def cache_key(
    data_fingerprint: str, pooler_class: type, pooler_config: dict, levels: int
) -> str:
    identity = {
        "data": data_fingerprint,
        "pooler": f"{pooler_class.__module__}.{pooler_class.__qualname__}",
        "config": pooler_config,
        "levels": levels,
        "poolbench": poolbench.__version__,
        "algorithm": algorithm_hash(pooler_class),
        "format": FORMAT_VERSION,
    }
    blob = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


@dataclass
class PrecomputeResult:
    levels: list[PackedTopology]
    seconds: float  # to compute, or to load from the cache
    from_cache: bool
    path: Path


def load_or_compute(
    poolers: list,
    graphs: list[Data],
    cache_dir: str | Path,
    key: str,
) -> PrecomputeResult:
    """The packed topologies, from ``cache_dir/<key>.pt`` when there, else computed
    and saved there (atomically: concurrent jobs may race on the same file)."""
    start = time.perf_counter()
    path = Path(cache_dir) / f"{key}.pt"
    if path.exists():
        try:
            states = torch.load(path, weights_only=True)
            levels = [PackedTopology.from_state(s) for s in states]
            if len(levels) == len(poolers):
                return PrecomputeResult(levels, time.perf_counter() - start, True, path)
        except Exception:  # a torn or foreign file: recompute and replace it
            pass
    levels = compute_topologies(poolers, graphs)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    torch.save([level.state() for level in levels], tmp)
    os.replace(tmp, path)
    return PrecomputeResult(levels, time.perf_counter() - start, False, path)
