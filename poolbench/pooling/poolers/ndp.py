"""Node Decimation Pooling (Bianchi et al. 2020): spectral MAXCUT + Kron reduction.

Paper: https://arxiv.org/abs/1910.11436

- SEL: split each graph by the sign of the top eigenvector of its normalised
  Laplacian and keep one side (:func:`poolbench.pooling.select.select_ndp`);
  about half of the nodes survive, so ``ratio`` is ignored.
- RED: ``X' = X[kept]`` (S is the ``[N, K]`` selection of the kept columns).
- CON: Kron reduction of the Laplacian onto the kept nodes,
  ``L' = L_kk - L_kd L_dd^+ L_dk``; ``A' = -L'`` without its diagonal, and
  edges with ``|a'_ij| <= sparse_threshold`` are dropped.
- No auxiliary loss.

Each graph is handled in the padded dense form ``[B, N, N]`` in float64 (eigh
and a pseudo-inverse): TU graphs are small. Deviations from tgp's NDPPooling:
tgp keeps the non-negative side of a LOBPCG eigenvector of arbitrary sign and
falls back to a random split when the cut is under 0.5 (or the graph has fewer
than 3 nodes); here the side and the fallback split are fixed (see
``select_ndp``), so the operator is deterministic, and graphs with no edges
keep all their nodes. ``L_dd^+`` equals ``L_dd^-1`` whenever that exists; it
differs only where a whole component is dropped, which adds no edge either way.
"""

from __future__ import annotations

import torch
from torch import Tensor

from poolbench.pooling.base import TopologyPooler
from poolbench.pooling.registry import register
from poolbench.pooling.select import padded_topology, select_ndp


def kron_reduce(adj: Tensor, keep: Tensor, drop: Tensor) -> Tensor:
    """Kron-reduced adjacency ``[B, N, N]``, zero outside kept x kept pairs.

    ``adj`` is symmetric ``[B, N, N]``; ``keep`` and ``drop`` are ``[B, N]``
    (padding is in neither).
    """
    lap = torch.diag_embed(adj.sum(-1)) - adj
    kk = keep.unsqueeze(-1) & keep.unsqueeze(-2)
    kd = keep.unsqueeze(-1) & drop.unsqueeze(-2)
    dd = drop.unsqueeze(-1) & drop.unsqueeze(-2)
    zero = torch.zeros((), dtype=adj.dtype, device=adj.device)
    # Identity off the dropped block so one batched pinv serves every graph.
    l_dd = torch.where(dd, lap, zero) + torch.diag_embed((~drop).to(adj.dtype))
    l_kd = torch.where(kd, lap, zero)
    schur = l_kd @ torch.linalg.pinv(l_dd, hermitian=True) @ l_kd.transpose(1, 2)
    new = -torch.where(kk, lap - schur, zero)
    new = (new + new.transpose(1, 2)) / 2
    eye = torch.eye(adj.size(-1), dtype=torch.bool, device=adj.device)
    return torch.where(eye, zero, new)


@register("ndp")
class NDPPool(TopologyPooler):
    paper = "Bianchi et al., TNNLS 2020, https://arxiv.org/abs/1910.11436"
    reference = (
        "tgp: selection equal up to the eigenvector sign, Kron reduction equal "
        "(test_ref_one_over_k.py)"
    )
    family = "one_over_k"

    def __init__(
        self,
        in_channels: int,
        ratio: float = 0.5,
        avg_nodes: float = 0.0,
        sparse_threshold: float = 0.01,
    ):
        super().__init__(in_channels, ratio, avg_nodes)
        if sparse_threshold < 0:
            raise ValueError(f"sparse_threshold must be >= 0, got {sparse_threshold}")
        self.sparse_threshold = sparse_threshold

    def precompute(
        self, edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor
    ) -> dict[str, Tensor]:
        adj, mask, local = padded_topology(edge_index, edge_weight, batch)
        keep = select_ndp(adj, mask)
        pooled = kron_reduce(adj, keep, mask & ~keep)
        kept = keep[batch, local]
        cluster = torch.cumsum(kept.long(), 0) - 1
        cluster = torch.where(kept, cluster, -1)
        # Kept nodes of the padded form, numbered in batch order.
        dense_id = torch.full_like(mask, -1, dtype=torch.long)
        dense_id[batch, local] = cluster
        b, i, j = (pooled.abs() > self.sparse_threshold).nonzero(as_tuple=True)
        dtype = edge_weight.dtype if edge_weight is not None else torch.float32
        return {
            "cluster": cluster,
            "edge_index": torch.stack([dense_id[b, i], dense_id[b, j]]),
            "edge_weight": pooled[b, i, j].to(dtype),
            "batch": batch[kept],
        }

    def extra_repr(self) -> str:
        return f"sparse_threshold={self.sparse_threshold}"
