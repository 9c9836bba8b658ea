"""Path integral based pooling, PANPool (Ma et al. 2020), in core torch.

Paper: https://arxiv.org/abs/2006.16811

The maximal entropy transition (MET) matrix of PANConv is built inside the
pooler from the (binary) input graph, with learnable path weights ``w``
``[L + 1]``: ``M = sum_{n=0}^{L} (w_0 ... w_n) A^n``, normalised as
``M <- Z^{-1/2} M Z^{-1/2}`` with ``Z_ii`` the number of stored entries of row
``i`` (exactly PyG's PANConv, which also ignores edge weights). The paper
normalises by the row sums of ``M`` instead; PyG's count makes ``M``'s column
sums far from 1 (0.32-0.36 on a 4-node path, against 0.95-1.05), and those
sums are half of the selection score. Kept as PyG's, the implementation
users compare with.

- SEL: ``score = beta_0 * X p + beta_1 * 1^T M`` ``[N]`` (column sums of ``M``),
  ``y = tanh(score)``; keep the ``ceil(ratio * N)`` top nodes of each graph,
  ``idx`` ``[K_total]``.
- RED: ``X' = X[idx] * y[idx]`` ``[K_total, F]``.
- CON: ``A' = M[idx, idx]`` with the values of ``M`` as edge weights (self-loops
  kept), as PyG's and tgp's PANPooling connect the MET matrix.
- No auxiliary loss.

PyG's PANConv/PANPooling and tgp's PANPooling need torch_sparse. Here the
powers ``A^n`` are path counts computed once per forward with
``torch.sparse.mm`` (no gradient needed: ``A`` is binary), and ``M``'s values
are a linear map of them, ``C [nnz(M), L+1] @ cumprod(w)``, so ``w`` gets its
gradient through dense ops. Unlike PyG's PANPooling we rank ``tanh(score)``
directly, without the ``SelectTopK(1)`` scalar whose negative sign keeps the
lowest-scored nodes (PyG 9862; tgp does the same). Init as PyG: ``p = 1``,
``beta = 0.5``, ``w = 0.5``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn.resolver import activation_resolver
from torch_geometric.utils import coalesce, scatter

from poolbench.pooling.base import Pooler, PoolOutput
from poolbench.pooling.connect import cluster_connect
from poolbench.pooling.poolers.topk import score_output
from poolbench.pooling.registry import register
from poolbench.pooling.select import keep_top


def path_counts(
    edge_index: Tensor, num_nodes: int, length: int
) -> tuple[Tensor, Tensor]:
    """Entries of ``sum_n A^n`` and their per-power path counts.

    ``A`` is the binary transposed adjacency (row = target, as PyG's ``adj_t``).

    Returns:
        ``index`` ``[2, nnz]`` (row, col) and ``counts`` ``[nnz, length + 1]``
        with ``counts[e, n] = (A^n)[row_e, col_e]``.
    """
    device = edge_index.device
    ei = coalesce(edge_index, num_nodes=num_nodes)
    # indices in range by construction: check_invariants=False skips the
    # check and torch's per-process warning that it is skipped
    adj = torch.sparse_coo_tensor(
        ei.flip(0),
        torch.ones(ei.size(1), device=device),
        (num_nodes, num_nodes),
        check_invariants=False,
    ).coalesce()
    eye = torch.arange(num_nodes, device=device)
    power = torch.sparse_coo_tensor(
        torch.stack([eye, eye]),
        torch.ones(num_nodes, device=device),
        adj.shape,
        check_invariants=False,
    ).coalesce()
    idx, val, hop = [power.indices()], [power.values()], [torch.zeros_like(eye)]
    for n in range(1, length + 1):
        power = torch.sparse.mm(power, adj).coalesce()
        idx.append(power.indices())
        val.append(power.values())
        hop.append(torch.full_like(power.values(), n, dtype=torch.long))
    all_idx = torch.cat(idx, dim=1)
    keys, inverse = torch.unique(
        all_idx[0] * num_nodes + all_idx[1], return_inverse=True
    )
    counts = torch.zeros(keys.numel(), length + 1, device=device)
    counts.index_put_((inverse, torch.cat(hop)), torch.cat(val), accumulate=True)
    index = torch.stack([keys // num_nodes, keys % num_nodes])
    return index, counts


@register("pan")
class PANPool(Pooler):
    paper = "Ma et al., NeurIPS 2020, https://arxiv.org/abs/2006.16811"
    reference = "none runnable: tgp and PyG need torch_sparse"
    family = "score"
    trainable = True

    def __init__(
        self,
        in_channels: int,
        ratio: float = 0.5,
        avg_nodes: float = 0.0,
        filter_size: int = 2,
        nonlinearity: str = "tanh",
    ):
        super().__init__(in_channels, ratio, avg_nodes)
        if filter_size < 0:
            raise ValueError(f"filter_size must be >= 0, got {filter_size}")
        self.filter_size = filter_size
        self.act = activation_resolver(nonlinearity)
        self.p = nn.Parameter(torch.ones(in_channels))
        self.beta = nn.Parameter(torch.full((2,), 0.5))
        self.path_weight = nn.Parameter(torch.full((filter_size + 1,), 0.5))

    def met_matrix(self, edge_index: Tensor, num_nodes: int) -> tuple[Tensor, Tensor]:
        """Normalised MET matrix ``M`` as ``(index [2, nnz], value [nnz])``."""
        with torch.no_grad():
            index, counts = path_counts(edge_index, num_nodes, self.filter_size)
        value = counts.to(self.path_weight.dtype) @ torch.cumprod(self.path_weight, 0)
        nnz_per_row = torch.bincount(index[0], minlength=num_nodes)
        # Every row holds its diagonal (n = 0), so the count is never zero.
        inv_sqrt = nnz_per_row.to(value.dtype).rsqrt()
        value = inv_sqrt[index[0]] * value * inv_sqrt[index[1]]
        return index, value

    def forward(
        self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor
    ) -> PoolOutput:
        n = x.size(0)
        (row, col), m_val = self.met_matrix(edge_index, n)
        score1 = (x * self.p).sum(-1)
        score2 = scatter(m_val, col, 0, dim_size=n, reduce="sum")
        score = self.act(self.beta[0] * score1 + self.beta[1] * score2)
        perm = keep_top(score, self.ratio, batch)
        cluster = torch.full((n,), -1, dtype=torch.long, device=x.device)
        cluster[perm] = torch.arange(perm.numel(), device=x.device)
        ei, ew = cluster_connect(
            torch.stack([col, row]), m_val, cluster, perm.numel(), remove_loops=False
        )
        out_x = x[perm] * score[perm].unsqueeze(-1)
        return score_output(out_x, ei, ew, batch[perm], perm, score[perm], n)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, filter_size={self.filter_size}"
