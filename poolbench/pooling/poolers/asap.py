"""Adaptive Structure Aware Pooling (Ranjan et al. 2020), wrapping PyG's ASAPooling.

Paper: https://arxiv.org/abs/1911.07979

- SEL: every node ``i`` gathers its 1-hop ego-net (self-loop added) with
  master-query attention ``S_ji = softmax_j(att([max_j lin(x_j), x_j]))``
  ``[N, N]`` sparse; cluster features ``X_c = S^T X`` ``[N, F]``; fitness
  ``phi = sigmoid(LEConv(X_c, A))`` ``[N]``; keep the ``ceil(ratio * N)``
  fittest clusters of each graph, ``idx`` ``[K_total]``.
- RED: ``X' = X_c[idx] * phi[idx]`` ``[K_total, F]``.
- CON: ``A' = S[:, idx]^T A S[:, idx]`` without self-loops. As in PyG, the pooled
  edges carry weights only when the input had edge weights.
- No auxiliary loss.

The parameters are PyG's ASAPooling's and the forward repeats its steps, with
two fixes. (1) PyG ranks ``phi`` through a ``SelectTopK(1)`` that owns a scalar
weight which never receives a gradient and whose sign is random at init; a
negative sign keeps the *least* fit clusters (the SAGPool bug of PyG 9862). We
use :class:`~poolbench.pooling.poolers.sag.RankTopK` instead. (2) PyG computes
``S^T A S`` with sparse CSR products whose backward fails in torch 2.13 when
edge weights are present (``index_add_`` on SparseCPU), so a weighted graph
could not train; we use COO ``torch.sparse.mm``, which has a backward. No
torch_sparse is needed; edge weights are accepted (PyG 3466). As in PyG the
scorer LEConv ignores edge weights.

Difference from tgp's ASAPooling: tgp connects ``A[idx, idx]`` and passes edge
weights to LEConv; we keep PyG's (and the paper's) ``S^T A S``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn.pool import ASAPooling
from torch_geometric.utils import (
    add_remaining_self_loops,
    remove_self_loops,
    softmax,
)

from poolbench.pooling.base import Pooler, PoolOutput
from poolbench.pooling.poolers.sag import RankTopK
from poolbench.pooling.poolers.topk import score_output
from poolbench.pooling.registry import register


@register("asap")
class ASAPool(Pooler):
    paper = "Ranjan et al., AAAI 2020, https://arxiv.org/abs/1911.07979"
    reference = "tgp: selection and features equal; CON follows PyG (test_ref_score.py)"
    family = "score"
    trainable = True

    def __init__(
        self,
        in_channels: int,
        ratio: float = 0.5,
        avg_nodes: float = 0.0,
        dropout: float = 0.0,
        negative_slope: float = 0.2,
        add_self_loops: bool = False,
    ):
        super().__init__(in_channels, ratio, avg_nodes)
        self.pool = ASAPooling(
            in_channels,
            ratio=ratio,
            dropout=dropout,
            negative_slope=negative_slope,
            add_self_loops=add_self_loops,
        )
        self.pool.select = RankTopK(ratio)

    def forward(
        self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor
    ) -> PoolOutput:
        # PyG's forward, step by step, except CON (see the module docstring).
        pool, n = self.pool, x.size(0)
        edge_index, edge_weight = add_remaining_self_loops(
            edge_index, edge_weight, fill_value=1.0, num_nodes=n
        )
        x_pool = x
        if pool.gnn_intra_cluster is not None:
            x_pool = pool.gnn_intra_cluster(x, edge_index, edge_weight)
        src, dst = edge_index
        # Row gathers by index_select: on the CPU its backward (an index_add)
        # is several times faster than advanced indexing's accumulating
        # index_put over these E x F rows.
        x_src = x_pool.index_select(0, src)
        # Per-node max over 1-D indices: PyG's scatter expands the index to
        # E x F first; same values and tie-splitting gradient, ~1.6x faster.
        x_q = x_src.new_zeros(n, x_src.size(1)).index_reduce_(
            0, dst, x_src, "amax", include_self=False
        )
        query = pool.lin(x_q).index_select(0, dst)
        att = pool.att(torch.cat([query, x_src], dim=-1)).view(-1)
        att = softmax(F.leaky_relu(att, pool.negative_slope), dst, num_nodes=n)
        att = F.dropout(att, p=pool.dropout, training=self.training)
        x_src = x_src if x_pool is x else x.index_select(0, src)
        messages = x_src * att.unsqueeze(-1)
        x_c = messages.new_zeros(n, messages.size(1)).index_add_(0, dst, messages)

        fitness = pool.gnn_score(x_c, edge_index).sigmoid().view(-1)
        perm = pool.select(fitness, batch).node_index
        k = perm.numel()
        kept_fitness = fitness.index_select(0, perm)
        out_x = x_c.index_select(0, perm) * kept_fitness.unsqueeze(-1)

        col = torch.full((n,), -1, dtype=torch.long, device=x.device)
        col[perm] = torch.arange(k, device=x.device)
        keep = col[dst] >= 0
        # indices in range by construction: check_invariants=False skips the
        # check and torch's per-process warning that it is skipped
        # in float32 with autocast off: sparse products have no bf16 kernel
        # on the CPU (trainer.amp), and the pooled weights are sums anyway
        with torch.autocast(x.device.type, enabled=False):
            s = torch.sparse_coo_tensor(
                torch.stack([src[keep], col[dst[keep]]]),
                att[keep].float(),
                (n, k),
                check_invariants=False,
            )
            ones = torch.ones_like(att) if edge_weight is None else edge_weight
            a = torch.sparse_coo_tensor(
                edge_index, ones.float(), (n, n), check_invariants=False
            )
            a_pool = torch.sparse.mm(s.t(), torch.sparse.mm(a, s)).coalesce()
        ei, ew = a_pool.indices(), a_pool.values()
        if pool.add_self_loops:
            ei, ew = add_remaining_self_loops(ei, ew, num_nodes=k)
        else:
            ei, ew = remove_self_loops(ei, ew)
        if edge_weight is None:
            ew = None
        return score_output(out_x, ei, ew, batch[perm], perm, kept_fitness, n)
