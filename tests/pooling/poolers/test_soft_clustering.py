"""Soft-clustering poolers and the dense random control: exact values and invariants."""

from __future__ import annotations

import math

import pytest
import torch
from torch_geometric.data import Batch, Data

from poolbench.pooling import discover
from poolbench.pooling.dense import to_padded
from poolbench.pooling.losses import (
    asym_norm_loss,
    balance_loss,
    cluster_loss,
    entropy_loss,
    hosc_orthogonality_loss,
    link_loss,
    spectral_loss,
    totvar_loss,
    triangle_adjacency,
)
from poolbench.pooling.poolers.dense_random import DenseRandomPool
from poolbench.pooling.poolers.nmf import NMFPool, nmf_assignment
from tests.pooling.graphs import no_edges, path_graph, random_graph, with_weights

REGISTRY = discover()
AUX_POOLERS = ["mincut", "diffpool", "dmon", "acc", "justbalance", "hosc"]


def graph(edges: list[tuple[int, int]], n: int) -> Data:
    ei = torch.tensor(edges, dtype=torch.long).t()
    ei = torch.cat([ei, ei.flip(0)], dim=1)
    return Data(x=torch.randn(n, 4), edge_index=ei)


def padded(data: Data):
    b = Batch.from_data_list([data])
    return to_padded(b.x, b.edge_index, None, b.batch)


def one_hot(labels: list[int], k: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(labels), k).float().unsqueeze(0)


TWO_EDGES = graph([(0, 1), (2, 3)], 4)  # two disjoint edges
BALANCED = one_hot([0, 0, 1, 1], 2)
COLLAPSED = one_hot([0, 0, 0, 0], 2)


def test_link_loss_exact():
    _, adj, mask = padded(graph([(0, 1)], 2))
    s = one_hot([0, 1], 2)  # S S^T = I, so A - I has four entries of size 1
    assert link_loss(adj, s, mask).item() == pytest.approx(2.0, abs=1e-5)
    assert link_loss(adj, s, mask, normalize=True).item() == pytest.approx(
        0.5, abs=1e-5
    )


def test_entropy_loss_exact():
    mask = torch.ones(1, 4, dtype=torch.bool)
    assert entropy_loss(torch.full((1, 4, 2), 0.5), mask).item() == pytest.approx(
        math.log(2), abs=1e-5
    )
    assert entropy_loss(BALANCED, mask).item() == pytest.approx(0.0, abs=1e-5)


def test_dmon_losses_exact():
    _, adj, mask = padded(TWO_EDGES)
    # Modularity of the two components: 2 * (2/4 - (2/4)^2) = 0.5.
    assert spectral_loss(adj, BALANCED).item() == pytest.approx(-0.5, abs=1e-5)
    assert cluster_loss(BALANCED, mask).item() == pytest.approx(0.0, abs=1e-5)
    assert cluster_loss(COLLAPSED, mask).item() == pytest.approx(
        math.sqrt(2) - 1, abs=1e-5
    )


def test_acc_losses_exact():
    _, adj, mask = padded(path_graph(3))
    s = one_hot([0, 0, 1], 2)
    # Only edge 1-2 crosses: 2 directed entries x L1 distance 2, over 2 * 4 entries.
    assert totvar_loss(adj, s).item() == pytest.approx(0.5, abs=1e-6)
    mask4 = torch.ones(1, 4, dtype=torch.bool)
    assert asym_norm_loss(BALANCED, mask4).item() == pytest.approx(0.0, abs=1e-6)
    assert asym_norm_loss(COLLAPSED, mask4).item() == pytest.approx(1.0, abs=1e-6)


def test_balance_losses_exact():
    mask = torch.ones(1, 4, dtype=torch.bool)
    assert balance_loss(BALANCED, mask).item() == pytest.approx(-1.0, abs=1e-5)
    assert balance_loss(COLLAPSED, mask).item() == pytest.approx(-2 / 8**0.5, abs=1e-5)
    assert hosc_orthogonality_loss(BALANCED, mask).item() == pytest.approx(0, abs=1e-6)
    uniform = torch.full((1, 4, 2), 0.5)
    assert hosc_orthogonality_loss(uniform, mask).item() == pytest.approx(1, abs=1e-6)


def test_triangle_adjacency_counts_triangles_per_edge():
    # Two triangles sharing edge 0-1, plus a pendant edge 2-4.
    _, adj, _ = padded(graph([(0, 1), (1, 2), (0, 2), (0, 3), (1, 3), (2, 4)], 5))
    m = triangle_adjacency(adj)[0]
    assert m[0, 1] == 2 and m[1, 0] == 2
    assert m[0, 2] == 1 and m[1, 3] == 1
    assert m[2, 4] == 0 and m[2, 3] == 0  # an edge without triangle; a non-edge
    assert torch.equal(m, m.t())


@pytest.mark.parametrize("name", AUX_POOLERS)
def test_aux_losses_do_not_depend_on_batch_composition(name):
    """A graph's loss alone equals its share of a batch with bigger graphs."""
    graphs = [
        with_weights(random_graph(5, p=0.5, seed=1), seed=1),
        with_weights(random_graph(14, p=0.3, seed=2), seed=2),
        with_weights(random_graph(11, p=0.4, seed=3), seed=3),
        no_edges(6),
    ]
    graphs[-1].edge_weight = torch.empty(0)
    torch.manual_seed(0)
    pooler = REGISTRY[name](in_channels=4, ratio=0.5, avg_nodes=8).eval()

    def losses(data_list):
        b = Batch.from_data_list(data_list)
        return pooler(b.x, b.edge_index, b.edge_weight, b.batch).aux_loss

    batch = losses(graphs)
    alone = [losses([g]) for g in graphs]
    for key, value in batch.items():
        expected = torch.stack([a[key] for a in alone]).mean()
        torch.testing.assert_close(value, expected, atol=1e-5, rtol=1e-5)


def test_edgeless_graph_gives_finite_loss_gradients():
    b = Batch.from_data_list([no_edges(5)])
    for name in AUX_POOLERS:
        torch.manual_seed(0)
        pooler = REGISTRY[name](in_channels=4, ratio=0.5, avg_nodes=5)
        out = pooler(b.x, b.edge_index, None, b.batch)
        sum(out.aux_loss.values()).backward()
        for p in pooler.parameters():
            assert torch.isfinite(p.grad).all(), name


def test_hosc_alpha_one_on_triangle_free_graph_is_zero():
    torch.manual_seed(0)
    pooler = REGISTRY["hosc"](in_channels=4, ratio=0.5, avg_nodes=6, alpha=1.0)
    b = Batch.from_data_list([path_graph(6)])
    out = pooler(b.x, b.edge_index, None, b.batch)
    assert out.aux_loss["hosc"].item() == 0.0
    with pytest.raises(ValueError):
        REGISTRY["hosc"](in_channels=4, alpha=1.5)


def test_nmf_small_graphs_get_one_cluster_per_node():
    b = Batch.from_data_list([path_graph(3), random_graph(9, seed=1)])
    out = NMFPool(in_channels=4, ratio=0.5, avg_nodes=8)(
        b.x, b.edge_index, None, b.batch
    )
    assert out.s.shape == (2, 9, 4)
    torch.testing.assert_close(out.s[0, :3], torch.eye(3, 4))
    assert out.s[0, 3:].abs().sum() == 0
    torch.testing.assert_close(out.s[1].sum(-1), torch.ones(9))


def test_nmf_separates_two_cliques_and_ignores_features():
    clique = [(i, j) for i in range(4) for j in range(i + 1, 4)]
    data = graph(clique + [(i + 4, j + 4) for i, j in clique] + [(3, 4)], 8)
    pooler = NMFPool(in_channels=4, ratio=0.25, avg_nodes=8)
    b = Batch.from_data_list([data])
    s = pooler(b.x, b.edge_index, None, b.batch).s[0]
    labels = s.argmax(-1)
    assert labels[:4].unique().numel() == 1 and labels[4:].unique().numel() == 1
    assert labels[0] != labels[4]
    s2 = pooler(torch.randn_like(b.x), b.edge_index, None, b.batch).s[0]
    assert torch.equal(s, s2)
    assert not any(p.requires_grad for p in pooler.parameters())


def test_nmf_edgeless_graph_is_uniform():
    _, adj, mask = padded(no_edges(6))
    s = nmf_assignment(adj, mask, 3, iterations=50)
    torch.testing.assert_close(s[0], torch.full((6, 3), 1 / 3))


def test_dense_random_is_fixed_and_position_indexed():
    pooler = DenseRandomPool(in_channels=4, ratio=0.5, avg_nodes=8)
    assert list(pooler.parameters()) == []
    small = Batch.from_data_list([random_graph(7, seed=1)])
    big = Batch.from_data_list([random_graph(150, p=0.05, seed=2)])

    def assign(b):
        return pooler(b.x, b.edge_index, None, b.batch).s[0]

    first = assign(small)
    grown = assign(big)  # grows the table past one chunk
    torch.testing.assert_close(assign(small), first, rtol=0, atol=0)
    torch.testing.assert_close(grown[:7], first, rtol=0, atol=0)
    torch.testing.assert_close(grown.sum(-1), torch.ones(150))
    again = DenseRandomPool(in_channels=4, ratio=0.5, avg_nodes=8)
    torch.testing.assert_close(
        assign(big), again(big.x, big.edge_index, None, big.batch).s[0]
    )
    other = DenseRandomPool(in_channels=4, ratio=0.5, avg_nodes=8, seed=1)
    assert not torch.allclose(
        first, other(small.x, small.edge_index, None, small.batch).s[0]
    )
    # Different features, same graph size: same S (it ignores the input).
    torch.testing.assert_close(
        pooler(torch.randn(7, 4), small.edge_index, None, small.batch).s[0], first
    )


def test_dense_random_does_not_depend_on_the_global_seed():
    b = Batch.from_data_list([random_graph(9, seed=1)])
    outs = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        outs.append(
            DenseRandomPool(in_channels=4, avg_nodes=8)(
                b.x, b.edge_index, None, b.batch
            ).s
        )
    torch.testing.assert_close(outs[0], outs[1])


def test_losses_reuse_a_given_sts_product_without_changing_their_value():
    from poolbench.pooling.losses import mincut_loss, spectral_loss

    g = torch.Generator().manual_seed(0)
    adj = (torch.rand(3, 6, 6, generator=g) > 0.5).float()
    adj = ((adj + adj.transpose(1, 2)) > 0).float()
    s = torch.softmax(torch.randn(3, 6, 2, generator=g), -1)
    sas = s.transpose(1, 2) @ adj @ s
    torch.testing.assert_close(mincut_loss(adj, s, sas), mincut_loss(adj, s))
    torch.testing.assert_close(spectral_loss(adj, s, sas), spectral_loss(adj, s))
    # and the given product is what is used
    assert not torch.isclose(mincut_loss(adj, s, 2 * sas), mincut_loss(adj, s))


@pytest.mark.parametrize(
    "name", ["mincut", "dmon", "justbalance", "dense_random", "diffpool", "acc", "hosc"]
)
def test_the_edge_sum_path_equals_the_dense_adjacency_path(name):
    """Poolers that skip the [B, N, N] adjacency give the same pooled graph."""
    cls = discover()[name]
    assert cls.needs_dense_adj is False
    graphs = []
    for n, seed in ((9, 0), (5, 1), (1, 2)):
        gen = torch.Generator().manual_seed(seed)
        upper = torch.triu(torch.rand(n, n, generator=gen) < 0.4, diagonal=1)
        ei = upper.nonzero().t()
        ei = torch.cat([ei, ei.flip(0)], dim=1)
        w = torch.rand(ei.size(1), generator=gen) + 0.1
        graphs.append(
            Data(x=torch.randn(n, 4, generator=gen), edge_index=ei, edge_weight=w)
        )
    b = Batch.from_data_list(graphs)
    torch.manual_seed(0)
    sparse = cls(in_channels=4, ratio=0.5, avg_nodes=6)
    dense = cls(in_channels=4, ratio=0.5, avg_nodes=6)
    dense.load_state_dict(sparse.state_dict())
    dense.needs_dense_adj = True
    a = sparse(b.x, b.edge_index, b.edge_weight, b.batch)
    c = dense(b.x, b.edge_index, b.edge_weight, b.batch)
    torch.testing.assert_close(a.x, c.x)
    assert torch.equal(a.edge_index, c.edge_index)
    torch.testing.assert_close(a.edge_weight, c.edge_weight)
    for key in c.aux_loss:
        torch.testing.assert_close(a.aux_loss[key], c.aux_loss[key])


def _bnpool_quality(s_k, s, edge_index, weight, batch):
    """BN-Pool's balanced cross-entropy by its definition: per graph, every
    ordered node pair with its adjacency label (parallel edges summed)."""
    import torch.nn.functional as F
    from torch_geometric.utils import to_dense_adj

    out = []
    for graph in range(int(batch.max()) + 1):
        nodes = (batch == graph).nonzero().view(-1)
        n = nodes.numel()
        keep = batch[edge_index[0]] == graph
        local = edge_index[:, keep] - nodes[0]
        labels = to_dense_adj(local, edge_attr=weight[keep], max_num_nodes=n)[0]
        logits = s_k[nodes] @ s[nodes].T
        loss = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
        edge = labels != 0
        w = max(n * n - int(edge.sum()), 1) / max(int(edge.sum()), 1)
        out.append(torch.where(edge, w * loss, loss).sum())
    return torch.stack(out)


def test_bnpool_quality_hand_value():
    """Zero logits: every pair costs log 2, a link (N^2 - E) / E times more.
    A 3-node graph with one undirected edge: 7 + 2 * 3.5 = 14 log 2; a lone
    node: log 2; parallel edges summing to zero leave a non-link."""
    from poolbench.pooling.dense import SizeGroups, edge_entries
    from poolbench.pooling.poolers.bnpool import balanced_bce

    edge_index = torch.tensor([[0, 1, 3, 3], [1, 0, 4, 4]])
    weight = torch.tensor([1.0, 1.0, 2.0, -2.0])
    batch = torch.tensor([0, 0, 0, 1, 1, 2])
    zeros = torch.zeros(6, 2)
    entries = edge_entries(edge_index, weight, batch)
    got = balanced_bce(zeros, zeros, entries, SizeGroups.of(batch))
    log2 = torch.log(torch.tensor(2.0))
    torch.testing.assert_close(got, torch.stack([14 * log2, 4 * log2, log2]))


def test_bnpool_quality_equals_the_per_pair_definition():
    """Values and gradients (S, S K and the edge weights) on graphs of very
    different sizes (several size groups), with a parallel edge, a directed
    edge, a self-loop, a zero-weight edge and an edgeless graph."""
    from poolbench.pooling.dense import SizeGroups, edge_entries
    from poolbench.pooling.poolers.bnpool import balanced_bce

    g = torch.Generator().manual_seed(0)
    sizes = [3, 90, 1, 40, 2, 200]
    batch = torch.repeat_interleave(torch.arange(6), torch.tensor(sizes))
    starts = torch.cumsum(torch.tensor(sizes), 0) - torch.tensor(sizes)
    parts = []
    for first, n in zip(starts.tolist(), sizes):
        if n > 2:
            pairs = torch.randint(0, n, (2, 3 * n), generator=g) + first
            parts.append(pairs)
    # a parallel pair (0, 1), a self-loop (2, 2) and, last, parallel edges
    # (10, 11) whose weights cancel: a non-link whose label still has a gradient
    extra = torch.tensor([[0, 0, 2, 10, 10], [1, 1, 2, 11, 11]])
    edge_index = torch.cat(parts + [extra], 1)
    weight = torch.rand(edge_index.size(1), generator=g, dtype=torch.float64)
    weight[5] = 0.0
    weight[-2], weight[-1] = 0.75, -0.75
    groups = SizeGroups.of(batch)
    assert len(groups.blocks) > 1
    rows = torch.randn(batch.numel(), 8, generator=g, dtype=torch.float64)
    got_in = [rows.clone().requires_grad_(), weight.clone().requires_grad_()]
    want_in = [rows.clone().requires_grad_(), weight.clone().requires_grad_()]
    entries = edge_entries(edge_index, got_in[1], batch, torch.float64)
    got = balanced_bce(got_in[0][:, :4], got_in[0][:, 4:], entries, groups)
    want = _bnpool_quality(
        want_in[0][:, :4], want_in[0][:, 4:], edge_index, want_in[1], batch
    )
    torch.testing.assert_close(got, want)
    scale = torch.rand(6, generator=g, dtype=torch.float64)
    (got * scale).sum().backward()
    (want * scale).sum().backward()
    for a, b in zip(got_in, want_in):
        torch.testing.assert_close(a.grad, b.grad)
    assert got_in[1].grad[-1] != 0  # the cancelled pair's -l


def test_bnpool_quality_keeps_float32_under_bf16_autocast():
    """The all-pairs sum runs in float32 even under ``trainer.amp``."""
    from poolbench.pooling.dense import SizeGroups, edge_entries
    from poolbench.pooling.poolers.bnpool import balanced_bce

    g = torch.Generator().manual_seed(0)
    sizes = [30, 200, 5]
    batch = torch.repeat_interleave(torch.arange(3), torch.tensor(sizes))
    edge_index = torch.randint(0, 30, (2, 80), generator=g)
    s = torch.softmax(torch.randn(batch.numel(), 6, generator=g), -1)
    s_k = s @ torch.randn(6, 6, generator=g)
    entries = edge_entries(edge_index, None, batch)
    groups = SizeGroups.of(batch)
    want = balanced_bce(s_k, s, entries, groups)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = balanced_bce(s_k, s, entries, groups)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)


def test_a_diverged_bnpool_gives_a_nan_loss_not_an_argument_error():
    """Non-finite weights must reach the loss (the runner writes a `nan`
    row); the KL's Beta checked its arguments and raised a ValueError that
    dumped the tensor (a `failed` row with a 500-character error)."""
    from poolbench.pooling.poolers.bnpool import BNPool

    g = random_graph(8, seed=0)
    pooler = BNPool(in_channels=g.x.size(1), ratio=0.5, avg_nodes=8).train()
    with torch.no_grad():
        for p in pooler.parameters():
            p.fill_(float("nan"))
    out = pooler(g.x, g.edge_index, None, torch.zeros(8, dtype=torch.long))
    assert not torch.isfinite(sum(out.aux_loss.values()))
