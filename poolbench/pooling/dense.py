"""Moving between the sparse batch and the padded dense form used by soft clustering.

Padding is per batch (to that batch's largest graph), never to the dataset's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.utils import scatter, to_dense_adj, to_dense_batch


@dataclass
class Padding:
    """Where each node of a sparse batch sits in the padded ``[B, N_max]`` form.

    Made once per pooler call, so the features, the assignment and ``A S``
    are padded with one index instead of one ``to_dense_batch`` each.
    """

    index: Tensor  # [N] flat position b * N_max + (place of the node in b)
    mask: Tensor  # [B, N_max]

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
        return cls(index, mask.view(num_graphs, n_max))

    def pad(self, rows: Tensor) -> Tensor:
        """``[N, ...]`` -> ``[B, N_max, ...]``, zeros in the padding (gradients
        flow back to ``rows``)."""
        b, n_max = self.mask.shape
        out = rows.new_zeros(b * n_max, *rows.shape[1:])
        return out.index_copy(0, self.index, rows).view(b, n_max, *rows.shape[1:])


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


def sparse_adj_times(
    edge_index: Tensor, edge_weight: Tensor | None, s_flat: Tensor, padding: Padding
) -> tuple[Tensor, Tensor]:
    """``A S`` ``[B, N, K]`` and the degrees ``[B, N]`` without building ``A``.

    A sum over the E edges costs ``E K`` instead of the padded ``B N^2 K``, and
    memory stays ``B N K``: what lets dense poolers follow N K, not N^2.
    ``s_flat`` ``[N, K]`` holds the real rows, in the sparse batch's node order.
    """
    n = s_flat.size(0)
    row, col = edge_index
    w = (
        torch.ones(row.numel(), device=s_flat.device, dtype=s_flat.dtype)
        if edge_weight is None
        else edge_weight.to(s_flat.dtype)
    )
    as_flat = scatter(w.unsqueeze(-1) * s_flat[col], row, dim=0, dim_size=n)
    deg_flat = scatter(w, row, dim=0, dim_size=n)
    return padding.pad(as_flat), padding.pad(deg_flat)


@dataclass
class EdgeEntries:
    """The stored entries of a batch's adjacency, as ``to_dense_adj`` makes them.

    One entry per distinct ``(row, col)`` pair, sorted by row then column;
    ``weight`` sums the weights of parallel edges (gradients flow back to them)
    and ``graph`` is each entry's graph id. Node ids are the batch's flat ids.
    """

    row: Tensor
    col: Tensor
    weight: Tensor
    graph: Tensor
    num_nodes: int

    @property
    def key(self) -> Tensor:
        """``row * num_nodes + col``: sorted, one per entry."""
        return self.row * self.num_nodes + self.col


def edge_entries(
    edge_index: Tensor,
    edge_weight: Tensor | None,
    batch: Tensor,
    dtype: torch.dtype = torch.float32,
) -> EdgeEntries:
    """Coalesce a sparse batch into :class:`EdgeEntries` (O(E log E), no N^2)."""
    n = batch.numel()
    row, col = edge_index
    w = (
        torch.ones(row.numel(), device=row.device, dtype=dtype)
        if edge_weight is None
        else edge_weight.view(-1).to(dtype)
    )
    key, inverse = torch.unique(row * n + col, sorted=True, return_inverse=True)
    weight = w.new_zeros(key.numel()).index_add(0, inverse, w)
    row_u = torch.div(key, n, rounding_mode="floor")
    return EdgeEntries(row_u, key - row_u * n, weight, batch[row_u], n)


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
    b, i, j = adj.nonzero(as_tuple=True)
    edge_weight = adj[b, i, j]
    edge_index = torch.stack([b * k + i, b * k + j])
    batch = torch.arange(num_graphs, device=x.device).repeat_interleave(k)
    return x.reshape(num_graphs * k, -1), edge_index, edge_weight, batch
