"""The GPB poolers (hgpsl, copool, cgi, gsa): hand-checked against their definitions.

None has a tgp or PyG twin, so each piece is checked against a direct
computation of the paper's formula (or the authors' code where noted).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import Batch

from poolbench.pooling.poolers.cgi import CGIPool
from poolbench.pooling.poolers.copool import CoPool, graph_quantile
from poolbench.pooling.poolers.gsa import GSAPool
from poolbench.pooling.poolers.hgpsl import (
    HGPSLPool,
    information_score,
    segment_sparsemax,
    within_hops,
)
from tests.pooling.graphs import path_graph, random_graph, with_weights


def sparsemax_reference(z: np.ndarray) -> np.ndarray:
    """Martins & Astudillo (2016), Algorithm 1, one vector."""
    s = np.sort(z)[::-1]
    cs = np.cumsum(s)
    k = max(r for r in range(1, z.size + 1) if 1 + r * s[r - 1] > cs[r - 1])
    tau = (cs[k - 1] - 1) / k
    return np.maximum(z - tau, 0)


def test_sparsemax_matches_the_algorithm_per_group_and_sums_to_one():
    g = torch.Generator().manual_seed(0)
    value = torch.randn(40, generator=g) * 2
    index = torch.randint(0, 6, (40,), generator=g)
    out = segment_sparsemax(value, index, 7)
    for k in range(6):
        rows = index == k
        expected = sparsemax_reference(value[rows].numpy())
        np.testing.assert_allclose(out[rows].numpy(), expected, atol=1e-6)
        assert abs(float(out[rows].sum()) - 1) < 1e-5
    # The authors' example: two groups, exact values from their docstring.
    x = torch.tensor([1.7301, 0.6792, -1.0565, 1.6614, -0.3196, -0.7790, -0.3877])
    batch = torch.tensor([0, 0, 0, 0, 1, 1, 1])
    np.testing.assert_allclose(
        segment_sparsemax(x, batch, 2)[:4].numpy(), [0.5344, 0, 0, 0.4657], atol=1e-3
    )


def test_sparsemax_gradient_is_the_sparsemax_jacobian():
    value = torch.tensor([1.0, 0.8, -1.0, 0.3], requires_grad=True)
    out = segment_sparsemax(value, torch.zeros(4, dtype=torch.long), 1)
    support = out.detach() > 0
    grad_out = torch.tensor([1.0, 2.0, 3.0, 4.0])
    out.backward(grad_out)
    # J = diag(s) - s s^T / |S| on the support, 0 elsewhere.
    s = support.float()
    expected = s * grad_out - s * (s * grad_out).sum() / s.sum()
    torch.testing.assert_close(value.grad, expected)


def test_information_score_of_a_path_is_the_normalised_laplacian_norm():
    g = path_graph(4, features=2)
    a = torch.zeros(4, 4)
    a[g.edge_index[0], g.edge_index[1]] = 1
    d = a.sum(1).rsqrt()
    lap = torch.eye(4) - d[:, None] * a * d[None, :]
    expected = (lap @ g.x).abs().sum(1)
    torch.testing.assert_close(information_score(g.x, g.edge_index, None), expected)


def test_within_hops_is_the_pattern_of_the_walk_matrix():
    g = path_graph(7)
    for hops in (1, 2, 4):
        pairs = within_hops(g.edge_index, 7, hops)
        got = {tuple(p) for p in pairs.t().tolist()}
        expected = {(i, j) for i in range(7) for j in range(7) if abs(i - j) <= hops}
        assert got == expected


def test_hgpsl_keeps_informative_nodes_and_learns_row_stochastic_sparse_edges():
    b = Batch.from_data_list([random_graph(10, p=0.4, seed=s) for s in range(2)])
    torch.manual_seed(0)
    pool = HGPSLPool(4, ratio=0.5)
    out = pool(b.x, b.edge_index, None, b.batch)
    score = information_score(b.x, b.edge_index, None)
    for g in range(2):
        nodes = (b.batch == g).nonzero().view(-1)
        top = nodes[score[nodes].argsort(descending=True)[:5]]
        assert set(out.info["perm"][out.batch == g].tolist()) == set(top.tolist())
    # RED keeps the features as they are (no gate).
    torch.testing.assert_close(out.x, b.x[out.info["perm"]])
    # Each pooled node's outgoing weights form a sparse distribution.
    row_sum = torch.zeros(out.x.size(0)).index_add(
        0, out.edge_index[0], out.edge_weight
    )
    torch.testing.assert_close(row_sum, torch.ones_like(row_sum))
    assert (out.edge_weight > 0).all()
    # Edges stay inside graphs; candidates come from the 4-hop neighbourhood.
    assert torch.equal(out.batch[out.edge_index[0]], out.batch[out.edge_index[1]])


def test_hgpsl_scores_follow_the_formula_with_the_input_edges_as_prior():
    g = path_graph(4, features=2)
    b = Batch.from_data_list([g])
    pool = HGPSLPool(2, ratio=1.0, sample=False, sparse=False, lamb=1.0)
    with torch.no_grad():
        pool.att.copy_(torch.tensor([0.5, -1.0, 0.25, 2.0]))
    out = pool(b.x, b.edge_index, None, b.batch)
    perm = out.info["perm"]
    x = b.x[perm]
    a = torch.zeros(4, 4)
    a[g.edge_index[0], g.edge_index[1]] = 1
    a = a[perm][:, perm]
    e = torch.zeros(4, 4)
    for i, j in itertools.product(range(4), range(4)):
        e[i, j] = (
            F.leaky_relu((torch.cat([x[i], x[j]]) * pool.att).sum(), 0.2) + a[i, j]
        )
    expected = torch.softmax(e, dim=1)
    got = torch.zeros(4, 4)
    got[out.edge_index[0], out.edge_index[1]] = out.edge_weight
    torch.testing.assert_close(got, expected)


def test_graph_quantile_is_numpys_linear_percentile_per_graph():
    g = torch.Generator().manual_seed(1)
    value = torch.rand(30, generator=g)
    graph = torch.randint(0, 3, (30,), generator=g)
    for q in (0.0, 0.25, 0.4, 1.0):
        got = graph_quantile(value, graph, 3, q)
        for k in range(3):
            expected = np.percentile(value[graph == k].numpy(), 100 * q)
            assert abs(float(got[k]) - expected) < 1e-6


def test_copool_edge_view_red_and_con_follow_the_definition():
    data = random_graph(8, p=0.4, seed=3)
    b = Batch.from_data_list([data])
    torch.manual_seed(0)
    pool = CoPool(4, ratio=0.5, steps=2, alpha=0.1)
    out = pool(b.x, b.edge_index, None, b.batch)
    # Edge view by hand: GPR features, attention, self-loops 1, symmetric mean.
    n = 8
    a = torch.zeros(n, n)
    a[data.edge_index[0], data.edge_index[1]] = 1
    a_hat = a + torch.eye(n)
    d = a_hat.sum(1).rsqrt()
    a_hat = d[:, None] * a_hat * d[None, :]
    gamma = pool.propagate.gamma.detach()
    z = gamma[0] * b.x + gamma[1] * a_hat @ b.x + gamma[2] * a_hat @ a_hat @ b.x
    h = pool.att_proj(z).detach()
    raw = torch.sigmoid(
        (h @ pool.att_src.detach())[:, None] + (h @ pool.att_dst.detach())[None, :]
    )
    w = (raw * a + (raw * a).t()) / 2 + torch.eye(n)
    deg = w.sum(1)
    lap = torch.eye(n) - deg.rsqrt()[:, None] * w * deg.rsqrt()[None, :]
    score = (lap @ b.x).abs().sum(1)
    perm = score.argsort(descending=True)[:4]
    assert set(out.info["perm"].tolist()) == set(perm.tolist())
    kept = out.info["perm"]
    x_exp = torch.relu(pool.lin(torch.cat([b.x[kept], (w @ b.x)[kept]], 1)))
    torch.testing.assert_close(out.x, x_exp.detach(), atol=1e-5, rtol=1e-4)
    got = torch.zeros(4, 4)
    got[out.edge_index[0], out.edge_index[1]] = out.edge_weight.detach()
    torch.testing.assert_close(got, w[kept][:, kept], atol=1e-6, rtol=1e-5)


def test_copool_edge_ratio_keeps_each_graphs_top_edges():
    b = Batch.from_data_list([random_graph(9, p=0.5, seed=s) for s in range(2)])
    torch.manual_seed(0)
    full = CoPool(4, edge_ratio=1.0)
    half = CoPool(4, edge_ratio=0.5)
    half.load_state_dict(full.state_dict())
    ei_f, w_f = full.edge_view(b.x, b.edge_index, b.batch)
    ei_h, w_h = half.edge_view(b.x, b.edge_index, b.batch)
    graph_f, graph_h = b.batch[ei_f[0]], b.batch[ei_h[0]]
    for g in range(2):
        kept = w_h[graph_h == g]
        all_w = w_f[graph_f == g]
        assert kept.numel() >= math.ceil(0.5 * all_w.numel()) - 1
        assert kept.min() >= all_w.median() - 1e-6


def test_cgi_loss_and_selection_follow_the_definition():
    b = Batch.from_data_list([random_graph(9, seed=1), path_graph(5)])
    torch.manual_seed(0)
    pool = CGIPool(4, ratio=0.5, loss_coeff=1.0)
    out = pool(b.x, b.edge_index, None, b.batch)
    ei = b.edge_index
    t = F.leaky_relu(pool.transform(b.x, ei), 0.2)
    s_pos = pool.pos_score(F.leaky_relu(pool.pos_conv(b.x, ei), 0.2), ei).view(-1)
    s_neg = pool.neg_score(F.leaky_relu(pool.neg_conv(b.x, ei), 0.2), ei).view(-1)
    losses = []
    for g in range(2):
        m = b.batch == g
        gsum = t[m].mean(0)
        pos = pool.discriminator(
            torch.cat([(t[m] * torch.tanh(s_pos[m])[:, None]).mean(0), gsum])[None]
        )
        neg = pool.discriminator(
            torch.cat([(t[m] * torch.tanh(s_neg[m])[:, None]).mean(0), gsum])[None]
        )
        losses.append((-torch.log(pos) - torch.log(1 - neg)) / 2)
    torch.testing.assert_close(out.aux_loss["mi"], torch.stack(losses).mean())
    score = s_pos - s_neg
    for g, k in ((0, 5), (1, 3)):
        nodes = (b.batch == g).nonzero().view(-1)
        top = nodes[score[nodes].argsort(descending=True)[:k]]
        assert set(out.info["perm"][out.batch == g].tolist()) == set(top.tolist())
    perm = out.info["perm"]
    torch.testing.assert_close(out.x, t[perm] * torch.tanh(score[perm])[:, None])


@pytest.mark.parametrize("fusion", ["gat", "gcn", "none"])
def test_gsa_score_mixes_structure_and_features_and_gates_the_fused_features(fusion):
    b = Batch.from_data_list([with_weights(random_graph(10, seed=4), seed=4)])
    torch.manual_seed(0)
    pool = GSAPool(4, ratio=0.5, alpha=0.3, fusion=fusion)
    out = pool(b.x, b.edge_index, b.edge_weight, b.batch)
    s_s = pool.structure(b.x, b.edge_index).view(-1)
    s_f = pool.feature(b.x).view(-1)
    y = torch.tanh(0.3 * s_s + 0.7 * s_f)
    top = y.argsort(descending=True)[:5]
    assert set(out.info["perm"].tolist()) == set(top.tolist())
    h = b.x if pool.fusion is None else pool.fusion(b.x, b.edge_index)
    perm = out.info["perm"]
    torch.testing.assert_close(out.x, h[perm] * y[perm, None])
    # CON keeps the input weights between kept nodes.
    a = torch.zeros(10, 10)
    a[b.edge_index[0], b.edge_index[1]] = b.edge_weight
    got = torch.zeros(5, 5)
    got[out.edge_index[0], out.edge_index[1]] = out.edge_weight
    torch.testing.assert_close(got, a[perm][:, perm])
