"""LaPool over the edges and size groups equals its padded dense definition."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch, Data

from poolbench.pooling.connect import clean_pooled
from poolbench.pooling.dense import SizeGroups, to_padded
from poolbench.pooling.poolers.lapool import LaPool
from tests.pooling.test_edge_losses import awkward_batch


def dense_lapool(x, edge_index, edge_weight, batch):
    """The definition on the padded batch: ``[B, N, N]`` adjacency, leaders
    by ``v_i >= max_{j: a_ij != 0} v_j``, ``S`` ``[B, N, K_max]``; returns
    ``S^T X`` and the cleaned ``S^T A S`` of the real supernodes, and S."""
    if edge_weight is None:  # to_padded's ones would be float32
        edge_weight = x.new_ones(edge_index.size(1))
    x_dense, adj, mask = to_padded(x, edge_index, edge_weight, batch)
    v = (adj.sum(-1, keepdim=True) * x_dense - adj @ x_dense).norm(dim=-1)
    neighbour = torch.where(adj != 0, v.unsqueeze(1), float("-inf")).amax(-1)
    lead = (v >= neighbour) & mask
    lead = lead | (~lead.any(1, keepdim=True) & mask)
    num_graphs = mask.size(0)
    count = lead.sum(1)
    k_max = max(int(count.max()), 1)
    col = torch.cumsum(lead.long(), 1) - 1
    b, i = lead.nonzero(as_tuple=True)
    leader_x = x_dense.new_zeros(num_graphs, k_max, x.size(-1))
    leader_x[b, col[b, i]] = x_dense[b, i]
    out_mask = torch.arange(k_max) < count.unsqueeze(1)
    dot = x_dense @ leader_x.transpose(1, 2)
    norms = x_dense.norm(dim=-1, keepdim=True) * leader_x.norm(dim=-1).unsqueeze(1)
    cos = (dot / (norms + 1e-8)).masked_fill(~out_mask.unsqueeze(1), float("-inf"))
    s = torch.softmax(cos, dim=-1)
    onehot = torch.zeros_like(s)
    onehot[b, i, col[b, i]] = 1.0
    s = torch.where(lead.unsqueeze(-1), onehot, s) * mask.unsqueeze(-1)
    x_pool = s.transpose(1, 2) @ x_dense
    adj_pool = clean_pooled(s.transpose(1, 2) @ adj @ s, True, True)
    keep = out_mask.nonzero(as_tuple=True)
    return x_pool[out_mask], adj_pool[keep[0], keep[1]], s, out_mask


def _pooled_blocks(out, out_mask):
    """Each real supernode's row of its graph's pooled adjacency, ``[K, K_max]``."""
    k_total = out.x.size(0)
    dense = torch.zeros(k_total, k_total, dtype=out.x.dtype)
    dense.index_put_(tuple(out.edge_index), out.edge_weight, accumulate=True)
    rows = torch.zeros(k_total, out_mask.size(1), dtype=out.x.dtype)
    first = torch.cumsum(out_mask.sum(1), 0) - out_mask.sum(1)
    for start, k in zip(first.tolist(), out_mask.sum(1).tolist()):
        rows[start : start + k, :k] = dense[start : start + k, start : start + k]
    return rows


def _varied_batch(weighted: bool) -> Batch:
    """Graphs of very different sizes, so the size groups form several blocks."""
    g = torch.Generator().manual_seed(3)
    graphs = []
    for n in (40, 3, 120, 5, 44, 4):  # not in size order
        upper = torch.triu(torch.rand(n, n, generator=g) < 4 / n, diagonal=1)
        ei = upper.nonzero().t()
        ei = torch.cat([ei, ei.flip(0)], 1)
        x = torch.randn(n, 5, generator=g, dtype=torch.float64)
        data = Data(x=x, edge_index=ei)
        if weighted:
            w = torch.rand(ei.size(1) // 2, generator=g, dtype=torch.float64) + 0.2
            data.edge_weight = w.repeat(2)
        graphs.append(data)
    return Batch.from_data_list(graphs)


@pytest.mark.parametrize(
    "case", ["awkward", "awkward unweighted", "varied", "varied unweighted"]
)
def test_lapool_equals_the_padded_definition_values_and_gradients(case):
    if case.startswith("awkward"):
        b = awkward_batch()
        b.x = b.x.double()
        b.edge_weight = b.edge_weight.double()
    else:
        b = _varied_batch(weighted=not case.endswith("unweighted"))
        assert len(SizeGroups.of(b.batch).blocks) > 1
    weighted = not case.endswith("unweighted")
    x_a = b.x.clone().requires_grad_()
    x_b = b.x.clone().requires_grad_()
    w_a = b.edge_weight.clone().requires_grad_() if weighted else None
    w_b = b.edge_weight.clone().requires_grad_() if weighted else None
    out = LaPool(x_a.size(1))(x_a, b.edge_index, w_a, b.batch)
    want_x, want_adj, want_s, out_mask = dense_lapool(x_b, b.edge_index, w_b, b.batch)
    assert out.s.shape == want_s.shape
    torch.testing.assert_close(out.s, want_s)
    torch.testing.assert_close(out.x, want_x)
    got_adj = _pooled_blocks(out, out_mask)
    torch.testing.assert_close(got_adj, want_adj)
    assert torch.equal(out.batch, out_mask.nonzero(as_tuple=True)[0])
    # gradients reach the features through S's cosines and RED alike
    g = torch.Generator().manual_seed(0)
    wx = torch.randn(want_x.shape, generator=g, dtype=want_x.dtype)
    wa = torch.randn(want_adj.shape, generator=g, dtype=want_adj.dtype)
    ((out.x * wx).sum() + (got_adj * wa).sum()).backward()
    ((want_x * wx).sum() + (want_adj * wa).sum()).backward()
    torch.testing.assert_close(x_a.grad, x_b.grad)
    if weighted:  # CON's S^T A S passes gradients to the edge weights too
        assert w_a.grad.abs().sum() > 0
        torch.testing.assert_close(w_a.grad, w_b.grad)


def test_lapool_leaders_read_summed_parallel_edges():
    """Two parallel edges 0-1 whose weights cancel are no edge: node 0 leads
    (no neighbour left) although node 1's variation is larger; on the path
    1-2-3, v = 4, 3, 1, so node 1 leads too, and nothing else."""
    x = torch.tensor([[0.0], [5.0], [1.0], [0.0]])
    ei = torch.tensor([[0, 0, 1, 1, 1, 2, 2, 3], [1, 1, 0, 0, 2, 1, 3, 2]])
    w = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0, 1.0, 1.0, 1.0])
    batch = torch.zeros(4, dtype=torch.long)
    out = LaPool(1)(x, ei, w, batch)
    _, _, want_s, _ = dense_lapool(x, ei, w, batch)
    torch.testing.assert_close(out.s, want_s)
    assert out.x.size(0) == 2
    assert out.s[0, 0].tolist() == [1.0, 0.0] and out.s[0, 1].tolist() == [0.0, 1.0]
