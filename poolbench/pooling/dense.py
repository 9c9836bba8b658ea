"""Moving between the sparse batch and the padded dense form used by soft clustering.

Padding is per batch (to that batch's largest graph), never to the dataset's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor
from torch_geometric.utils import to_dense_adj, to_dense_batch


@dataclass
class Padding:
    """Where each node of a sparse batch sits in the padded ``[B, N_max]`` form.

    Made once per pooler call, so the features, the assignment and ``A S``
    are padded with one index instead of one ``to_dense_batch`` each.
    """

    index: Tensor  # [N] flat position b * N_max + (place of the node in b)
    mask: Tensor  # [B, N_max]
    counts: Tensor  # [B] nodes per graph
    place: Tensor  # [N] place of each node within its graph

    @classmethod
    def of(cls, batch: Tensor) -> Padding:
        num_graphs = int(batch.max()) + 1 if batch.numel() else 1
        counts = torch.bincount(batch, minlength=num_graphs)
        n_max = int(counts.max()) if batch.numel() else 0
        starts = torch.cumsum(counts, 0) - counts
        place = torch.arange(batch.numel(), device=batch.device) - starts[batch]
        index = batch * n_max + place
        mask = torch.zeros(num_graphs * n_max, dtype=torch.bool, device=batch.device)
        mask[index] = True
        return cls(index, mask.view(num_graphs, n_max), counts, place)

    def pad(self, rows: Tensor) -> Tensor:
        """``[N, ...]`` -> ``[B, N_max, ...]``, zeros in the padding (gradients
        flow back to ``rows``)."""
        b, n_max = self.mask.shape
        out = rows.new_zeros(b * n_max, *rows.shape[1:])
        return out.index_copy_(0, self.index, rows).view(b, n_max, *rows.shape[1:])


@dataclass
class SizeGroups:
    """A batch's graphs sorted by size and cut into at most three padded blocks.

    Per-graph products ``sum_n u_n v_n^T`` (``S^T X``, ``S^T A S``, ``S^T S``)
    as one batched product over the ``[B, N_max]`` padding cost ``B N_max``
    rows; a PROTEINS batch of 32 graphs pads to its largest graph, about 5x its
    real rows. Graphs of similar size padded together cost about 1.4x (DD 1.3x,
    MUTAG 1.2x; ``scripts/padding_rows.py``), at one product per block. The
    cuts minimise the padded rows plus :attr:`BLOCK_ROWS` per extra block (what
    a block's products cost in kernel calls), so batches of even sizes stay
    one block.
    """

    # An extra block must save at least this many padded rows.
    BLOCK_ROWS: ClassVar[int] = 64

    index: Tensor  # [N] row of each node in the stacked blocks
    blocks: list[tuple[int, int, int]]  # (graphs, rows per graph, first row)
    rows: int  # total rows of the stacked blocks
    order: Tensor | None  # [B] graph ids by size; None when in graph order
    counts: Tensor  # [B] nodes per graph, by graph id

    @classmethod
    def of(cls, batch: Tensor, padding: Padding | None = None) -> SizeGroups:
        """The groups of a batch (``padding``, when given, saves recounting)."""
        if padding is None:
            padding = Padding.of(batch)
        counts, place = padding.counts, padding.place
        num_graphs, n_max = padding.mask.shape
        # B numbers: the cuts are searched on the host, a few small numpy ops
        # instead of a dozen tiny torch kernels.
        sizes = counts.cpu().numpy()
        order = np.argsort(sizes, kind="stable")
        ends = _best_cuts(sizes[order], cls.BLOCK_ROWS)
        if len(ends) == 1:
            return cls(
                padding.index,
                [(num_graphs, n_max, 0)],
                num_graphs * n_max,
                None,
                counts,
            )
        blocks, graph_row, begin, row = [], np.empty_like(sizes), 0, 0
        for end in ends:
            graphs, block_max = end - begin, int(sizes[order[end - 1]])
            blocks.append((graphs, block_max, row))
            # the first row of each graph's padded block, by graph id
            graph_row[order[begin:end]] = row + np.arange(graphs) * block_max
            row += graphs * block_max
            begin = end
        device = batch.device
        first_row = torch.as_tensor(graph_row, device=device)
        order_t = torch.as_tensor(order, device=device)
        return cls(first_row[batch] + place, blocks, row, order_t, counts)

    @property
    def num_graphs(self) -> int:
        return sum(graphs for graphs, _, _ in self.blocks)

    def blocks_of(self, *tensors: Tensor):
        """Per block, each of ``tensors`` (``[N, *]``, the sparse batch's
        order) padded to ``[graphs, n_max, *]``, zero in the padding.

        Each tensor is padded separately and the blocks taken by ``split``:
        slicing columns or rows out of one padded tensor would cost each
        backward a zero-filled copy of the whole padded tensor.
        """
        lengths = [graphs * n_max for graphs, n_max, _ in self.blocks]
        split = []
        for rows in tensors:
            out = rows.new_zeros(self.rows, rows.size(1))
            split.append(out.index_copy_(0, self.index, rows).split(lengths))
        for block, parts in zip(self.blocks, zip(*split)):
            graphs, n_max, _ = block
            # explicit widths: n_max may be 0 (a block of graphs without nodes)
            yield [
                part.view(graphs, n_max, rows.size(1))
                for part, rows in zip(parts, tensors)
            ]

    def by_graph_id(self, per_graph: Tensor) -> Tensor:
        """Stacked blocks' per-graph rows ``[B, ...]`` -> graph id order.
        Every row is written: index_copy_'s backward is a gather, no fill."""
        if self.order is None:
            return per_graph
        return torch.empty_like(per_graph).index_copy_(0, self.order, per_graph)

    def gram(self, left: Tensor, right: Tensor) -> Tensor:
        """``[B, K, W]``: per graph, ``sum_n left[n]^T right[n]`` over its nodes
        (``left`` ``[N, K]``, ``right`` ``[N, W]``, the sparse batch's order)."""
        parts = [lb.mT @ rb for lb, rb in self.blocks_of(left, right)]
        return self.by_graph_id(torch.cat(parts) if len(parts) > 1 else parts[0])

    def pair_sum(self, left: Tensor, right: Tensor, fn) -> Tensor:
        """``[B]``: per graph, ``sum_ij fn(left[i] . right[j])`` over its own
        ordered node pairs (``left``, ``right`` ``[N, K]``, the sparse batch's
        order; ``fn`` elementwise).

        One ``[graphs, n, n]`` product per block instead of gathering ``K``
        floats per pair. The padded pairs are masked out as ``m^T fn(P) m``
        (``m`` the block's real rows): subtracting their ``fn(0)`` instead
        would cancel digits in float32 when a small graph sits in a large
        block.
        """
        # at least float32 and no autocast: a bf16 sum of n^2 terms keeps
        # about 3 digits (relative error 4e-3 measured under CPU autocast)
        dtype = torch.promote_types(left.dtype, torch.float32)
        with torch.autocast(left.device.type, enabled=False):
            left, right = left.to(dtype), right.to(dtype)
            real = left.new_ones(left.size(0), 1)
            sums = [
                (m.mT @ fn(lb @ rb.mT) @ m).view(-1)
                for lb, rb, m in self.blocks_of(left, right, real)
            ]
        return self.by_graph_id(torch.cat(sums))

    def ranked_nodes(self, values: Tensor, rank: Tensor) -> Tensor:
        """``[B, K]``: per graph and column of ``values`` ``[N, K]``, the node
        (its row in ``values``) holding the ``rank[g]``-th largest value among
        the graph's nodes, 0 the largest. A top-k over the blocks' padded rows
        (which rank last), no gradient: callers gather the values they need.
        A graph without nodes gets node 0, which it must not read."""
        n, k = values.shape
        stacked = values.new_full((self.rows, k), float("-inf"))
        stacked.index_copy_(0, self.index, values.detach())
        node_of_row = self.index.new_zeros(self.rows)
        node_of_row.index_copy_(0, self.index, torch.arange(n, device=values.device))
        ranks = rank if self.order is None else rank[self.order]
        # each block's own deepest rank, read on the host in one sync: a
        # top-k costs with its k (PROTEINS: 0.68 -> about 0.4 ms a step under
        # torch.profiler against the batch-wide k; the small graphs' block
        # needs 2 of 30, not 30)
        ranks_host = ranks.tolist()
        parts, begin = [], 0
        for graphs, n_max, first in self.blocks:
            if n_max == 0:  # a block of graphs without nodes
                parts.append(self.index.new_zeros(graphs, k))
                begin += graphs
                continue
            block = stacked[first : first + graphs * n_max].view(graphs, n_max, k)
            top = max(ranks_host[begin : begin + graphs], default=0) + 1
            places = block.topk(min(n_max, top), dim=1).indices
            at = ranks[begin : begin + graphs].clamp(0, max(n_max - 1, 0))
            place = places.gather(1, at.view(-1, 1, 1).expand(-1, 1, k)).squeeze(1)
            first_row = first + torch.arange(graphs, device=values.device) * n_max
            parts.append(node_of_row[first_row.unsqueeze(1) + place])
            begin += graphs
        return self.by_graph_id(torch.cat(parts))


def _best_cuts(sizes, block_rows: int) -> list[int]:
    """Ends of at most three contiguous blocks of the ascending ``sizes``
    minimising the padded rows (a block pads to its last size) plus
    ``block_rows`` per block beyond the first."""
    sizes = np.asarray(sizes, dtype=np.int64)
    total = sizes.size
    if total < 2:
        return [max(total, 1)]
    last = int(sizes[-1])
    # blocks [0, i), [i, j), [j, total); j == total leaves two blocks
    i = np.arange(1, total)[:, None]
    j = np.arange(2, total + 1)[None, :]
    cost = (
        i * sizes[i - 1]
        + (j - i) * sizes[j - 1]
        + (total - j) * last
        + block_rows * (1 + (j < total))
    )
    cost = np.where(j <= i, total * last + 1, cost)
    best = int(cost.argmin())
    if int(cost.flat[best]) >= total * last:
        return [total]
    first, second = divmod(best, total - 1)
    if second + 2 == total:
        return [first + 1, total]
    return [first + 1, second + 2, total]


def padded_features(x: Tensor, batch: Tensor) -> tuple[Tensor, Tensor]:
    """``x`` ``[B, N, F]`` and ``mask`` ``[B, N]``, N the batch's largest graph."""
    num_graphs = int(batch.max()) + 1 if batch.numel() else 1
    return to_dense_batch(x, batch, batch_size=num_graphs)


def padded_adjacency(
    edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor, mask: Tensor
) -> Tensor:
    """``adj`` ``[B, N, N]`` matching the ``mask`` of :func:`padded_features`."""
    num_graphs, n_max = mask.shape
    return to_dense_adj(
        edge_index,
        batch,
        edge_attr=edge_weight,
        max_num_nodes=n_max,
        batch_size=num_graphs,
    )


def to_padded(
    x: Tensor, edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Return ``x`` ``[B, N, F]``, ``adj`` ``[B, N, N]`` and ``mask`` ``[B, N]``."""
    x_dense, mask = padded_features(x, batch)
    return x_dense, padded_adjacency(edge_index, edge_weight, batch, mask), mask


def adj_times_rows(
    edge_index: Tensor, edge_weight: Tensor | None, s_flat: Tensor
) -> tuple[Tensor, Tensor]:
    """``A S`` ``[N, K]`` and the degrees ``[N]`` of a sparse batch, summed
    over its E edges: ``E K`` work instead of the padded ``B N^2 K``, and no
    ``[N, N]`` matrix. ``s_flat`` ``[N, K]`` holds the real rows, in the sparse
    batch's node order; the results are in that order too.
    """
    n = s_flat.size(0)
    row, col = edge_index
    if is_dense_graph(edge_index.size(1), n):
        return _dense_adj_times_rows(edge_index, edge_weight, s_flat)
    # index_select: its backward is an index_add, several times faster on the
    # CPU than advanced indexing's accumulating index_put over E x K rows
    neighbours = s_flat.index_select(0, col)
    if edge_weight is None:
        a_s = s_flat.new_zeros(s_flat.shape).index_add_(0, row, neighbours)
        deg = torch.bincount(row, minlength=n).to(s_flat.dtype)
        return a_s, deg
    w = edge_weight.to(s_flat.dtype)
    messages = w.unsqueeze(-1) * neighbours
    a_s = s_flat.new_zeros(s_flat.shape).index_add_(0, row, messages)
    return a_s, s_flat.new_zeros(n).index_add_(0, row, w)


# One big graph with more than half of its N^2 entries stored (a dense
# pooler's complete output, pooled again in a U-Net) gets A S as one [N, N]
# product: the edge path's [E, K] gather (kept for the weights' gradient) was
# 5 GB at Cora's second U-Net level (E = 1354^2, K = 677) against 7 MB for
# the matrix. A batch of equal-sized pooled graphs stores at most 1/B of its
# N^2 entries, and small graphs are cheap either way, so graph-level batches
# keep the edge path (no shipped setting on the mirrored sets reaches it); a
# batch holding one pooled graph of 256 nodes or more (batch_size=1, or a
# pool ratio that makes K that large) takes the dense path, equal up to float
# rounding (tested).
DENSE_MIN_NODES = 256


def is_dense_graph(num_edges: int, num_nodes: int) -> bool:
    """True when ``[N, N]`` products beat per-edge work (see above)."""
    return num_nodes >= DENSE_MIN_NODES and 2 * num_edges > num_nodes * num_nodes


def dense_adjacency(
    source: Tensor, target: Tensor, weight: Tensor | None, n: int, like: Tensor
) -> Tensor:
    """``[N, N]`` with ``weight`` summed at ``(source, target)`` (ones when
    None; parallel edges add up, as the edge paths' scatters do). Gradients
    reach ``weight``."""
    w = like.new_ones(source.numel()) if weight is None else weight.to(like.dtype)
    return like.new_zeros(n * n).index_add(0, source * n + target, w).view(n, n)


def _dense_adj_times_rows(
    edge_index: Tensor, edge_weight: Tensor | None, s_flat: Tensor
) -> tuple[Tensor, Tensor]:
    """:func:`adj_times_rows` through the ``[N, N]`` adjacency (parallel edges
    summed, as the edge path does); gradients reach ``edge_weight``."""
    adj = dense_adjacency(*edge_index, edge_weight, s_flat.size(0), s_flat)
    return adj @ s_flat, adj.sum(1)


@dataclass
class EdgeEntries:
    """The stored entries of a batch's adjacency, as ``to_dense_adj`` makes them.

    One entry per distinct ``(row, col)`` pair, sorted by row then column;
    ``weight`` sums the weights of parallel edges (gradients flow back to them)
    and ``graph`` is each entry's graph id. Node ids are the batch's flat ids;
    ``batch`` ``[N]`` is each node's graph id, sorted as in a PyG batch.
    """

    # A lookup table costs its size in int32 fills; past this many slots per
    # entry, binary search over the sorted keys is cheaper.
    TABLE_SLOTS_PER_ENTRY: ClassVar[int] = 64

    row: Tensor
    col: Tensor
    weight: Tensor
    graph: Tensor
    num_nodes: int
    batch: Tensor
    # (slots, base), or False once the table was found too large
    _table: tuple[Tensor, Tensor] | bool | None = field(
        default=None, init=False, repr=False
    )

    @property
    def key(self) -> Tensor:
        """``row * num_nodes + col``: sorted, one per entry."""
        return self.row * self.num_nodes + self.col

    def position(self, row: Tensor, col: Tensor) -> Tensor:
        """Index of the entry ``(row[q], col[q])`` of every query ``q``, -1
        where A stores none. Both ends of a query lie in one graph, and
        ``batch`` is sorted (each graph's nodes contiguous), as in a PyG batch.

        Each graph's ``n_g^2`` possible entries get a slot in one table
        (PROTEINS batches: about 20 slots per entry), so a query is two
        gathers instead of a binary search (which took a third of the
        triangle listing); batches with larger graphs fall back to the
        search.
        """
        if row.numel() == 0 or self.row.numel() == 0:
            return torch.full_like(row, -1)
        table = self._lookup_table()
        if table is None:  # the graphs are too large for a table
            key, query = self.key, row * self.num_nodes + col
            pos = torch.searchsorted(key, query).clamp_max(key.numel() - 1)
            return torch.where(key.index_select(0, pos) == query, pos, -1)
        slots, base = table
        return slots.index_select(0, base.index_select(0, row) + col).long()

    def _lookup_table(self) -> tuple[Tensor, Tensor] | None:
        """(slots, base): entry ``(i, j)`` sits at ``slots[base[i] + j]``."""
        if self._table is None:
            counts = torch.bincount(self.batch)
            size = int(counts.square().sum())
            if size > self.TABLE_SLOTS_PER_ENTRY * self.row.numel():
                self._table = False  # decided once per batch (a host sync)
                return None
            node = torch.arange(self.batch.numel(), device=self.batch.device)
            start = (torch.cumsum(counts, 0) - counts).index_select(0, self.batch)
            first = torch.cumsum(counts.square(), 0) - counts.square()
            # graph g's slots start at first[g]; row i of g at first[g] + (i -
            # start) n_g; column j at that + (j - start)
            base = (
                first.index_select(0, self.batch)
                + (node - start) * counts.index_select(0, self.batch)
                - start
            )
            num = self.row.numel()
            slots = torch.full((size,), -1, dtype=torch.int32, device=node.device)
            where = base.index_select(0, self.row) + self.col
            ids = torch.arange(num, dtype=torch.int32, device=node.device)
            self._table = (slots.index_copy_(0, where, ids), base)
        return self._table or None


def edge_entries(
    edge_index: Tensor,
    edge_weight: Tensor | None,
    batch: Tensor,
    dtype: torch.dtype = torch.float32,
) -> EdgeEntries:
    """Coalesce a sparse batch into :class:`EdgeEntries` (O(E log E), no N^2)."""
    n = batch.numel()
    # int64 keys: row * n + col overflows int32 indices past 46,340 nodes
    row, col = edge_index.long()
    w = (
        torch.ones(row.numel(), device=row.device, dtype=dtype)
        if edge_weight is None
        else edge_weight.view(-1).to(dtype)
    )
    key, inverse = torch.unique(row * n + col, sorted=True, return_inverse=True)
    weight = w.new_zeros(key.numel()).index_add(0, inverse, w)
    row_u = torch.div(key, n, rounding_mode="floor")
    batch = batch.long()
    return EdgeEntries(row_u, key - row_u * n, weight, batch[row_u], n, batch)


def from_padded(x: Tensor, adj: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Sparse form of a dense pooled batch with K supernodes per graph.

    Args:
        x: pooled features ``[B, K, F]``.
        adj: pooled adjacency ``[B, K, K]``.

    Returns:
        ``x`` ``[B*K, F]``, ``edge_index`` ``[2, E]``, ``edge_weight`` ``[E]``
        (the nonzero entries of ``adj``, so gradients flow through them) and
        ``batch`` ``[B*K]``.
    """
    num_graphs, k, _ = x.shape
    flat = adj.reshape(-1)
    # One nonzero on the flat [B K K] entries, and 1-D gathers of each
    # entry's weight and of its supernodes from grids of ids: about 1.5x
    # faster on the CPU than nonzero(as_tuple=True), adj[b, i, j] and the
    # id arithmetic (int64 division is slow there).
    entry = flat.nonzero().view(-1)
    edge_weight = flat.index_select(0, entry)
    ids = torch.arange(num_graphs * k, device=x.device)  # b * k + i
    rows = ids.view(-1, 1).expand(-1, k).reshape(-1)
    cols = ids.view(num_graphs, 1, k).expand(-1, k, -1).reshape(-1)
    edge_index = torch.stack([rows.index_select(0, entry), cols.index_select(0, entry)])
    batch = torch.arange(num_graphs, device=x.device).repeat_interleave(k)
    return x.reshape(num_graphs * k, -1), edge_index, edge_weight, batch
