"""The edge forms of the soft-clustering losses equal their dense definitions.

DiffPool's link loss, HOSC's motif cut and ACC's total variation are computed
over the stored entries of A instead of the padded ``[B, N, N]`` adjacency.
Each is checked against the dense form, values and gradients (with respect to
S and to the edge weights, which carry gradients after an earlier pooling
level), on batches with the awkward cases: parallel edges (``to_dense_adj``
sums them), a directed edge, a self-loop, a zero-weight edge, an edgeless
graph, isolated nodes and a single node.
"""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch, Data

from poolbench.pooling import discover
from poolbench.pooling.dense import edge_entries, to_padded
from poolbench.pooling.losses import (
    cut_loss_edges,
    link_loss,
    link_loss_edges,
    mincut_loss,
    totvar_loss,
    totvar_loss_edges,
    triangle_adjacency,
    triangle_weights,
)

K = 3


def awkward_batch() -> Batch:
    g = torch.Generator().manual_seed(0)
    # 6 nodes: two triangles sharing 0-1, a pendant 2-4, node 5 isolated;
    # edge 0-1 listed twice (parallel), 3 -> 4 only one way, a loop at 2.
    und = [(0, 1), (1, 2), (0, 2), (0, 3), (1, 3), (2, 4)]
    ei = torch.tensor(und).t()
    ei = torch.cat([ei, ei.flip(0), torch.tensor([[0, 3, 2], [1, 4, 2]])], 1)
    first = Data(x=torch.randn(6, 4, generator=g), edge_index=ei)
    # a random graph with a zero-weight edge
    upper = torch.triu(torch.rand(7, 7, generator=g) < 0.5, diagonal=1)
    e2 = upper.nonzero().t()
    e2 = torch.cat([e2, e2.flip(0)], 1)
    second = Data(x=torch.randn(7, 4, generator=g), edge_index=e2)
    empty = Data(x=torch.randn(4, 4), edge_index=torch.empty(2, 0, dtype=torch.long))
    single = Data(x=torch.randn(1, 4), edge_index=torch.empty(2, 0, dtype=torch.long))
    graphs = [first, second, empty, single]
    for data in graphs:
        data.edge_weight = torch.rand(data.edge_index.size(1), generator=g) + 0.1
    second.edge_weight[0] = 0.0
    return Batch.from_data_list(graphs)


def inputs():
    b = awkward_batch()
    weight = b.edge_weight.clone().requires_grad_()
    _, adj, mask = to_padded(b.x, b.edge_index, weight, b.batch)
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(*mask.shape, K, generator=g)
    s = (torch.softmax(logits, -1) * mask.unsqueeze(-1)).requires_grad_()
    return b, weight, adj, mask, s


def compare(dense_fn, edge_fn, uses_weights=True):
    """Same value, same gradients w.r.t. S's real rows and the edge weights
    (which must reach the loss unless ``uses_weights`` is False). The padded
    rows of S are constants in a pooler, so their gradients are not compared."""

    def grads(value, s, weight):
        out = torch.autograd.grad(value, [s, weight], allow_unused=not uses_weights)
        out = [
            torch.zeros_like(t) if g is None else g for g, t in zip(out, [s, weight])
        ]
        return [out[0][mask], out[1]]

    b, weight, adj, mask, s = inputs()
    want = dense_fn(adj, s, mask)
    want_grads = grads(want, s, weight)
    b, weight, adj, mask, s = inputs()
    e = edge_entries(b.edge_index, weight, b.batch)
    got = edge_fn(e, s, mask, b)
    got_grads = grads(got, s, weight)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    for g_got, g_want in zip(got_grads, want_grads):
        torch.testing.assert_close(g_got, g_want, atol=1e-5, rtol=1e-4)
    return got


def test_entries_sum_parallel_edges_like_to_dense_adj():
    b, weight, adj, mask, _ = inputs()
    e = edge_entries(b.edge_index, weight, b.batch)
    rebuilt = torch.zeros(b.num_nodes, b.num_nodes)
    rebuilt[e.row, e.col] = e.weight.detach()
    dense = torch.block_diag(*[adj[i, m][:, m] for i, m in enumerate(mask)])
    torch.testing.assert_close(rebuilt, dense.detach())
    assert (e.key[1:] > e.key[:-1]).all()  # one entry per pair, sorted
    assert e.row.numel() < b.edge_index.size(1)  # the parallel edge merged


@pytest.mark.parametrize("normalize", [False, True])
def test_link_loss_edges_equals_the_dense_frobenius_norm(normalize):
    def edge_fn(e, s, mask, b):
        sas = s.transpose(1, 2) @ _dense_from(e, mask) @ s
        return link_loss_edges(e, s.transpose(1, 2) @ s, mask, sas, normalize)

    compare(lambda adj, s, mask: link_loss(adj, s, mask, normalize), edge_fn)


def test_link_loss_edges_hand_value():
    # one edge 0-1, S = I: ||A - I||_F^2 = 4, so the loss is 2 (as the dense test)
    ei = torch.tensor([[0, 1], [1, 0]])
    batch = torch.zeros(2, dtype=torch.long)
    e = edge_entries(ei, None, batch)
    s = torch.eye(2).unsqueeze(0)
    sas = s.transpose(1, 2) @ torch.tensor([[[0.0, 1], [1, 0]]]) @ s
    mask = torch.ones(1, 2, dtype=torch.bool)
    ss = s.transpose(1, 2) @ s
    assert link_loss_edges(e, ss, mask, sas).item() == pytest.approx(2.0, abs=1e-5)


def test_totvar_edges_equals_the_dense_total_variation():
    compare(
        lambda adj, s, mask: totvar_loss(adj, s),
        lambda e, s, mask, b: totvar_loss_edges(e, s[mask], s.size(0)),
    )


def test_triangle_weights_count_triangles_on_each_edge():
    # Two triangles sharing edge 0-1, plus a pendant edge 2-4 (as the dense test).
    und = torch.tensor([(0, 1), (1, 2), (0, 2), (0, 3), (1, 3), (2, 4)]).t()
    ei = torch.cat([und, und.flip(0)], 1)
    e = edge_entries(ei, None, torch.zeros(5, dtype=torch.long))
    m = dict(zip(zip(e.row.tolist(), e.col.tolist()), triangle_weights(e).tolist()))
    assert m[(0, 1)] == 2 and m[(1, 0)] == 2
    assert m[(0, 2)] == 1 and m[(1, 3)] == 1
    assert m[(2, 4)] == 0 and m[(4, 2)] == 0


def test_motif_cut_edges_equals_the_dense_motif_cut():
    def edge_fn(e, s, mask, b):
        return cut_loss_edges(e, triangle_weights(e), s[mask], b.batch, s.size(0))

    got = compare(lambda adj, s, mask: mincut_loss(triangle_adjacency(adj), s), edge_fn)
    assert got.item() < 0  # the batch has triangles: the term is not trivially 0


def test_motif_cut_of_constant_weights_drops_zero_entries_unchanged():
    """Weights without a gradient (the input graph): entries in no triangle
    are dropped from the sums; value and S's gradient stay the dense ones."""
    b, weight, adj, mask, s = inputs()
    want = mincut_loss(triangle_adjacency(adj.detach()), s)
    (want_grad,) = torch.autograd.grad(want, s)
    e = edge_entries(b.edge_index, weight.detach(), b.batch)
    motif = triangle_weights(e)
    assert (motif == 0).any() and (motif != 0).any()
    got = cut_loss_edges(e, motif, s[mask], b.batch, s.size(0))
    (got_grad,) = torch.autograd.grad(got, s)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got_grad[mask], want_grad[mask], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ["diffpool", "acc", "hosc"])
def test_poolers_never_build_the_dense_adjacency(name, monkeypatch):
    import poolbench.pooling.base as base

    def refuse(*args, **kwargs):
        raise AssertionError("the [B, N, N] adjacency was built")

    monkeypatch.setattr(base, "padded_adjacency", refuse)
    b = awkward_batch()
    pooler = discover()[name](in_channels=4, ratio=0.5, avg_nodes=5)
    out = pooler(b.x, b.edge_index, b.edge_weight, b.batch)
    sum(out.aux_loss.values()).backward()


def _dense_from(e, mask):
    """The padded adjacency rebuilt from the entries (keeps the weights' graph)."""
    num_graphs, n_max = mask.shape
    counts = mask.sum(-1)
    start = torch.cumsum(counts, 0) - counts
    local_row = e.row - start[e.graph]
    local_col = e.col - start[e.graph]
    adj = e.weight.new_zeros(num_graphs, n_max, n_max)
    return adj.index_put((e.graph, local_row, local_col), e.weight, accumulate=True)


def test_padding_equals_to_dense_batch_and_passes_gradients():
    from torch_geometric.utils import to_dense_batch

    from poolbench.pooling.dense import Padding

    batch = torch.tensor([0, 0, 0, 1, 2, 2])  # sizes 3, 1, 2
    rows = torch.arange(12.0).view(6, 2).requires_grad_()
    padding = Padding.of(batch)
    dense, mask = to_dense_batch(rows, batch)
    assert torch.equal(padding.mask, mask)
    assert torch.equal(padding.pad(rows), dense)
    weights = torch.randn(3, 3, 2)
    (padding.pad(rows) * weights).sum().backward()
    assert torch.equal(rows.grad, weights[mask])  # each real row gets its own


def _padded_gram(rows, batch, k):
    from torch_geometric.utils import to_dense_batch

    dense, _ = to_dense_batch(rows, batch)
    return dense[..., :k].transpose(1, 2) @ dense


def _sized_batch(sizes, width):
    """``batch`` for graphs of ``sizes``, float64 ``rows`` ``[N, width]``,
    their size groups and the generator (drawn on again for the gradient weights)."""
    from poolbench.pooling.dense import SizeGroups

    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    g = torch.Generator().manual_seed(0)
    rows = torch.randn(batch.numel(), width, generator=g, dtype=torch.float64)
    return batch, rows, SizeGroups.of(batch), g


def _assert_same_values_and_gradients(got, want, got_rows, want_rows, g):
    """Equal values, and equal gradients of a random weighting of them."""
    torch.testing.assert_close(got, want)
    weights = torch.randn(*got.shape, generator=g, dtype=torch.float64)
    (got * weights).sum().backward()
    (want * weights).sum().backward()
    torch.testing.assert_close(got_rows.grad, want_rows.grad)


@pytest.mark.parametrize(
    "sizes, blocks",
    [
        ([3, 1, 2], 1),  # even sizes: one block, graph order kept
        ([2, 300, 3, 150, 2, 4, 160, 1], 3),  # uneven: sorted into three blocks
        ([5, 0, 400, 6], 2),  # an empty graph in the middle
    ],
)
def test_size_groups_gram_equals_the_padded_products(sizes, blocks):

    batch, rows, groups, g = _sized_batch(sizes, 7)
    assert len(groups.blocks) == blocks
    # fewer padded rows than one block padded to the largest graph
    assert groups.rows <= len(sizes) * max(sizes)
    if blocks > 1:
        assert groups.rows < len(sizes) * max(sizes) / 2
    got_rows = rows.clone().requires_grad_()
    got = groups.gram(got_rows[:, :3], got_rows)
    want_rows = rows.clone().requires_grad_()
    want = _padded_gram(want_rows, batch, 3)
    _assert_same_values_and_gradients(got, want, got_rows, want_rows, g)


@pytest.mark.parametrize(
    "sizes, blocks",
    [
        ([3, 1, 2], 1),
        ([2, 300, 3, 150, 2, 4, 160, 1], 3),
        ([5, 0, 400, 6], 2),
        ([0, 0, 0, 30, 30, 200], 3),  # a block of graphs without nodes
    ],
)
def test_size_groups_pair_sum_equals_the_sum_over_each_graphs_pairs(sizes, blocks):
    """softplus(0) = log 2 != 0: a padded pair left in the sum would show."""

    batch, rows, groups, g = _sized_batch(sizes, 6)
    assert len(groups.blocks) == blocks
    got_rows = rows.clone().requires_grad_()
    softplus = torch.nn.functional.softplus
    got = groups.pair_sum(got_rows[:, :3], got_rows[:, 3:], softplus)
    want_rows = rows.clone().requires_grad_()
    want = torch.stack(
        [
            softplus(
                want_rows[batch == graph, :3] @ want_rows[batch == graph, 3:].T
            ).sum()
            for graph in range(len(sizes))
        ]
    )
    _assert_same_values_and_gradients(got, want, got_rows, want_rows, g)


def test_best_cuts_minimise_padded_rows_plus_the_block_price():
    from poolbench.pooling.dense import _best_cuts

    def price(sizes, ends, block_rows):
        begin, total = 0, 0
        for end in ends:
            total += (end - begin) * sizes[end - 1]
            begin = end
        return total + block_rows * (len(ends) - 1)

    g = torch.Generator().manual_seed(3)
    for _ in range(300):
        n = int(torch.randint(1, 25, (1,), generator=g))
        sizes = sorted(torch.randint(0, 200, (n,), generator=g).tolist())
        every = [[n]] + [[i, n] for i in range(1, n)]
        every += [[i, j, n] for i in range(1, n) for j in range(i + 1, n)]
        best = min(price(sizes, ends, 64) for ends in every)
        ends = _best_cuts(torch.tensor(sizes), 64)
        assert ends[-1] == n and ends == sorted(set(ends))
        assert price(sizes, ends, 64) == best


def test_losses_from_per_node_statistics_equal_the_padded_definitions():
    """What the poolers compute from the real rows (PaddedGraph) equals each
    loss's padded definition, values and gradients w.r.t. S and the weights."""
    from poolbench.pooling import losses as L
    from poolbench.pooling.base import PaddedGraph
    from poolbench.pooling.dense import Padding, adj_times_rows

    def graph(e, s, mask, b):
        # the entries carry the weights' gradients (parallel edges summed)
        edge_index = torch.stack([e.row, e.col])
        s_flat = s[mask]
        a_s, deg = adj_times_rows(edge_index, e.weight, s_flat)
        padding = Padding.of(b.batch)
        sas = s.transpose(1, 2) @ padding.pad(a_s)
        ss = s.transpose(1, 2) @ s
        args = (None, s, mask, sas, ss, s_flat, deg, padding)
        return PaddedGraph(*args, edge_index, e.weight, b.batch)

    # (padded definition, from the real rows, reads the edge weights)
    cases = {
        "mincut": (
            lambda adj, s, mask: L.mincut_loss(adj, s),
            lambda g: L.mincut_from(g.sas, g.trace_sds()),
        ),
        "ortho": (
            lambda adj, s, mask: L.orthogonality_loss(s),
            lambda g: L.orthogonality_from(g.ss),
        ),
        "spectral": (
            lambda adj, s, mask: L.spectral_loss(adj, s),
            lambda g: L.spectral_from(
                g.sas,
                g.graph_sum(g.s_flat * g.deg_flat.unsqueeze(-1)),
                g.graph_sum(g.deg_flat),
            ),
        ),
        "cluster": (
            lambda adj, s, mask: L.cluster_loss(s, mask),
            lambda g: L.cluster_from(g.graph_sum(g.s_flat), g.num_nodes),
        ),
        "entropy": (
            lambda adj, s, mask: L.entropy_loss(s, mask),
            lambda g: L.entropy_from(
                g.graph_sum(L.node_entropy(g.s_flat)), g.num_nodes
            ),
        ),
        "balance": (
            lambda adj, s, mask: L.balance_loss(s, mask),
            lambda g: L.balance_from(g.ss.diagonal(dim1=-2, dim2=-1), g.num_nodes),
        ),
        "asym_norm": (
            lambda adj, s, mask: L.asym_norm_loss(s, mask),
            lambda g: L.asym_norm_from(g.s_flat, g.batch, g.groups),
        ),
    }
    for name, (dense_fn, rows_fn) in cases.items():
        weighted = name in ("mincut", "spectral")
        got = compare(
            dense_fn,
            lambda e, s, mask, b, f=rows_fn: f(graph(e, s, mask, b)),
            uses_weights=weighted,
        )
        assert torch.isfinite(got) and got.item() != 0, name


@pytest.mark.parametrize("k", [2, 4, 7])
def test_asym_norm_from_the_real_rows_equals_the_padded_top_k(k):
    """ACC's balance ranks each column within its graph by a top-k over the
    size groups; the quantile (value and the row that gets its gradient) is the one
    the padded top-k picks, for graphs smaller and larger than K."""
    from poolbench.pooling.dense import Padding, SizeGroups
    from poolbench.pooling.losses import asym_norm_from, asym_norm_loss

    g = torch.Generator().manual_seed(k)
    batch = torch.repeat_interleave(torch.tensor([30, 5, 1, 12, 3]))
    logits = torch.randn(batch.numel(), k, generator=g)
    s_flat = torch.softmax(logits, -1).requires_grad_()
    padding = Padding.of(batch)
    want = asym_norm_loss(padding.pad(s_flat), padding.mask)
    got = asym_norm_from(s_flat, batch, SizeGroups.of(batch))
    (want_grad,) = torch.autograd.grad(want, s_flat)
    (got_grad,) = torch.autograd.grad(got, s_flat)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(got_grad, want_grad)
    assert 0 < got.item() < 1


@pytest.mark.parametrize(
    "sizes, blocks", [([4, 4, 4], 1), ([30, 5, 1, 12, 3], 2), ([200, 2, 90, 1, 3], 3)]
)
def test_ranked_nodes_pick_the_rank_th_largest_of_each_graph(sizes, blocks):
    from poolbench.pooling.dense import SizeGroups

    g = torch.Generator().manual_seed(len(sizes))
    batch = torch.repeat_interleave(torch.tensor(sizes))
    values = torch.rand(batch.numel(), 3, generator=g)
    rank = torch.tensor([(7 * i) % n for i, n in enumerate(sizes)])
    groups = SizeGroups.of(batch)
    assert len(groups.blocks) == blocks
    nodes = groups.ranked_nodes(values, rank)
    for graph in range(len(sizes)):
        own = (batch == graph).nonzero().view(-1)
        assert set(nodes[graph].tolist()) <= set(own.tolist())
        want = values[own].sort(0, descending=True).values[rank[graph]]
        torch.testing.assert_close(values.gather(0, nodes[graph : graph + 1])[0], want)


def _symmetric_batch(seed: int) -> Batch:
    """Random undirected graphs with symmetric weights, no self-loops."""
    g = torch.Generator().manual_seed(seed)
    graphs = []
    for n in (12, 1, 7, 20):
        upper = torch.triu(torch.rand(n, n, generator=g) < 0.4, diagonal=1)
        edges = upper.nonzero().t()
        w = torch.rand(edges.size(1), generator=g) + 0.5
        ei = torch.cat([edges, edges.flip(0)], 1)
        graphs.append(Data(x=torch.zeros(n, 1), edge_index=ei, edge_weight=w.repeat(2)))
    return Batch.from_data_list(graphs)


def _symmetric_entries(seed, lookup, monkeypatch):
    """:func:`_symmetric_batch` and its entries, whose positions are found by
    the slot table or (``lookup="search"``) by binary search."""
    from poolbench.pooling.dense import EdgeEntries

    if lookup == "search":
        monkeypatch.setattr(EdgeEntries, "TABLE_SLOTS_PER_ENTRY", 0)
    b = _symmetric_batch(seed)
    return b, edge_entries(b.edge_index, b.edge_weight, b.batch)


@pytest.mark.parametrize("lookup", ["table", "search"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_triangles_listed_once_equal_the_dense_motif_and_the_path_count(
    seed, lookup, monkeypatch
):
    from poolbench.pooling.losses import _undirected_triangles

    b, e = _symmetric_entries(seed, lookup, monkeypatch)
    assert _undirected_triangles(e) is not None  # the fast path is taken
    assert (e._lookup_table() is None) == (lookup == "search")
    once = triangle_weights(e)
    _, adj, mask = to_padded(b.x, b.edge_index, b.edge_weight, b.batch)
    dense = triangle_adjacency(adj)
    offsets = b.ptr[b.batch[e.row]]
    want = dense[b.batch[e.row], e.row - offsets, e.col - offsets]
    assert want.abs().sum() > 0  # there are triangles
    torch.testing.assert_close(once, want)
    # the general 2-path count (taken when the weights carry gradients)
    weighted = edge_entries(
        b.edge_index, b.edge_weight.clone().requires_grad_(), b.batch
    )
    torch.testing.assert_close(triangle_weights(weighted), want)


@pytest.mark.parametrize("lookup", ["table", "search"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_triangle_pairs_give_the_dense_motif_cut_with_each_edge_once(
    seed, lookup, monkeypatch
):
    from poolbench.pooling.losses import cut_loss_pairs, triangle_pairs

    b, e = _symmetric_entries(seed, lookup, monkeypatch)
    pairs = triangle_pairs(e)
    assert pairs is not None
    # each undirected edge at most once (upward), none in no triangle
    keys = torch.minimum(pairs.row, pairs.col) * e.num_nodes + torch.maximum(
        pairs.row, pairs.col
    )
    assert keys.unique().numel() == keys.numel() and bool((pairs.weight != 0).all())
    motif = triangle_weights(e)
    assert pairs.row.numel() == int((motif != 0).sum()) // 2
    _, adj, mask = to_padded(b.x, b.edge_index, b.edge_weight, b.batch)
    g = torch.Generator().manual_seed(seed)
    s = torch.softmax(torch.randn(*mask.shape, 3, generator=g), -1) * mask[..., None]
    s.requires_grad_()
    want = mincut_loss(triangle_adjacency(adj), s)
    (want_grad,) = torch.autograd.grad(want, s)
    got = cut_loss_pairs(pairs, s[mask], b.batch, s.size(0))
    (got_grad,) = torch.autograd.grad(got, s)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(got_grad[mask], want_grad[mask])
    # a directed graph has no pair form: the caller takes the 2-paths
    directed = edge_entries(b.edge_index[:, 1:], b.edge_weight[1:], b.batch)
    assert triangle_pairs(directed) is None


def test_entry_positions_by_table_and_by_search_agree(monkeypatch):
    """Every stored entry finds itself, absent pairs -1, across graphs of
    different sizes (the table's per-graph slots) and with a node-less graph."""
    from poolbench.pooling.dense import EdgeEntries

    sizes = [3, 0, 5, 1, 4]
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    g = torch.Generator().manual_seed(0)
    starts = torch.tensor([0, *sizes]).cumsum(0)[:-1]
    edges = []
    for graph, n in enumerate(sizes):
        for i in range(n):
            for j in range(n):
                if torch.rand((), generator=g) < 0.4:
                    edges.append((starts[graph] + i, starts[graph] + j))
    ei = torch.tensor(edges).t()
    e = edge_entries(ei, None, batch)
    # all same-graph pairs as queries
    qr, qc = [], []
    for graph, n in enumerate(sizes):
        for i in range(n):
            for j in range(n):
                qr.append(starts[graph] + i)
                qc.append(starts[graph] + j)
    qr, qc = torch.tensor(qr), torch.tensor(qc)
    want = torch.full_like(qr, -1)
    for index, (r, c) in enumerate(zip(e.row.tolist(), e.col.tolist())):
        want[(qr == r) & (qc == c)] = index
    assert (want >= 0).any() and (want < 0).any()
    assert e._lookup_table() is not None
    assert torch.equal(e.position(qr, qc), want)
    monkeypatch.setattr(EdgeEntries, "TABLE_SLOTS_PER_ENTRY", 0)
    searched = edge_entries(ei, None, batch)
    assert searched._lookup_table() is None
    assert torch.equal(searched.position(qr, qc), want)


def test_triangles_listed_once_only_for_symmetric_loopless_graphs():
    from poolbench.pooling.losses import _undirected_triangles

    b = _symmetric_batch(0)
    ei, w = b.edge_index, b.edge_weight
    loop = torch.tensor([[3], [3]])
    cases = {
        "directed": (ei[:, 1:], w[1:]),
        "self-loop": (torch.cat([ei, loop], 1), torch.cat([w, torch.ones(1)])),
        "asymmetric weight": (ei, torch.cat([w[:1] + 1, w[1:]])),
    }
    for name, (edge_index, weight) in cases.items():
        e = edge_entries(edge_index, weight, b.batch)
        assert _undirected_triangles(e) is None, name


def test_graphs_without_nodes_in_a_block_of_their_own():
    """Graph ids with no nodes can form their own block (``n_max`` 0): the
    products, the ranks and the poolers still run, and the products equal
    the padded ones (zero for those graphs)."""
    from poolbench.pooling.dense import SizeGroups
    from poolbench.pooling.losses import asym_norm_from

    sizes = [0, 0, 0, 30, 30, 200]
    batch = torch.repeat_interleave(torch.arange(6), torch.tensor(sizes))
    groups = SizeGroups.of(batch)
    assert groups.blocks[0][:2] == (3, 0)  # the empty graphs, padded to 0 rows
    g = torch.Generator().manual_seed(0)
    rows = torch.randn(batch.numel(), 5, generator=g, dtype=torch.float64)
    got = groups.gram(rows[:, :2], rows)
    torch.testing.assert_close(got, _padded_gram(rows, batch, 2))
    assert got[:3].abs().sum() == 0
    nodes = groups.ranked_nodes(rows[:, :2], torch.zeros(6, dtype=torch.long))
    for graph in range(3, 6):
        own = (batch == graph).nonzero().view(-1)
        want = rows[own, :2].max(0).values
        torch.testing.assert_close(
            rows[:, :2].gather(0, nodes[graph : graph + 1])[0], want
        )
    s_flat = torch.softmax(rows[:, :3], -1)
    assert torch.isfinite(asym_norm_from(s_flat, batch, groups))
    edge_index = torch.stack([torch.arange(3, 259), torch.arange(4, 260)])
    x = torch.randn(batch.numel(), 4, generator=g)
    for name in ("mincut", "acc", "hosc", "lapool"):
        out = discover()[name](in_channels=4, ratio=0.5, avg_nodes=5)(
            x, edge_index, None, batch
        )
        assert all(torch.isfinite(v) for v in out.aux_loss.values()), name
        assert bool(torch.isfinite(out.x).all()) and out.s.shape[:2] == (6, 200)


def _uneven_batch() -> Batch:
    """Undirected graphs of very different sizes (several size groups)."""
    g = torch.Generator().manual_seed(3)
    graphs = []
    for n in (3, 40, 5, 60, 2, 45):
        upper = torch.triu(torch.rand(n, n, generator=g) < 0.15, diagonal=1)
        edges = upper.nonzero().t()
        ei = torch.cat([edges, edges.flip(0)], 1)
        graphs.append(Data(x=torch.randn(n, 4, generator=g), edge_index=ei))
    return Batch.from_data_list(graphs)


SOFT = ["mincut", "dmon", "justbalance", "diffpool", "hosc", "acc", "bnpool"]


@pytest.mark.parametrize("name", SOFT)
def test_poolers_give_the_same_result_in_one_block_or_several(name, monkeypatch):
    """A pooler's outputs, losses and gradients do not depend on how the
    batch's graphs are grouped for the per-graph products."""
    from poolbench.pooling.dense import SizeGroups

    b = _uneven_batch()

    def run(block_rows):
        monkeypatch.setattr(SizeGroups, "BLOCK_ROWS", block_rows)
        torch.manual_seed(0)
        pooler = discover()[name](in_channels=4, ratio=0.25, avg_nodes=25)
        x = b.x.clone().requires_grad_()
        torch.manual_seed(1)  # BN-Pool draws its assignment
        out = pooler(x, b.edge_index, None, b.batch)
        loss = out.x.square().sum() + out.edge_weight.sum() + sum(out.aux_loss.values())
        loss.backward()
        return out, x.grad

    one, one_grad = run(10**9)
    assert len(SizeGroups.of(b.batch).blocks) == 1
    several, several_grad = run(0)
    assert len(SizeGroups.of(b.batch).blocks) == 3
    torch.testing.assert_close(several.x, one.x)
    assert torch.equal(several.edge_index, one.edge_index)
    torch.testing.assert_close(several.edge_weight, one.edge_weight)
    for key, value in one.aux_loss.items():
        torch.testing.assert_close(several.aux_loss[key], value)
    torch.testing.assert_close(several_grad, one_grad)


def test_hosc_lists_triangles_once_or_counts_paths_to_the_same_loss():
    """At pooler level, HOSC's motif cut is the same whether the input's
    weights carry gradients (2-path count) or not (each triangle once)."""
    b = _symmetric_batch(1)
    torch.manual_seed(0)
    pooler = discover()["hosc"](in_channels=1, ratio=0.5, avg_nodes=10)
    plain = pooler(b.x, b.edge_index, b.edge_weight, b.batch).aux_loss["hosc"]
    weight = b.edge_weight.clone().requires_grad_()
    paths = pooler(b.x, b.edge_index, weight, b.batch).aux_loss["hosc"]
    torch.testing.assert_close(plain, paths)
    assert plain.item() != 0


def test_entries_of_int32_indices_past_the_int32_key_range():
    """``row * n + col`` of a 50,000-node batch does not fit int32: the keys
    are built in int64, so int32 indices give the same entries as int64."""
    n = 50_000
    batch = torch.zeros(n, dtype=torch.long)
    ei = torch.tensor([[49_999, 49_998, 7, 49_999], [49_998, 49_999, 49_990, 49_998]])
    want = edge_entries(ei, None, batch)
    got = edge_entries(ei.int(), None, batch)
    assert torch.equal(got.row, want.row) and torch.equal(got.col, want.col)
    assert got.row.tolist() == [7, 49_998, 49_999]
    assert got.weight.tolist() == [1.0, 1.0, 2.0]


def test_a_dense_graph_gets_a_s_from_the_matrix_equal_to_the_edges(monkeypatch):
    from poolbench.pooling import dense

    g = torch.Generator().manual_seed(2)
    n, k = 10, 4
    keep = torch.rand(n, n, generator=g) > 0.3
    edge_index = torch.cat(
        [keep.nonzero().t(), torch.tensor([[0], [1]])], 1
    )  # a repeat
    weight = torch.rand(edge_index.size(1), generator=g).requires_grad_()
    s = torch.rand(n, k, generator=g).softmax(-1).requires_grad_()
    assert not dense.is_dense_graph(edge_index.size(1), n)  # too small to matter
    for w in (weight, None):
        with monkeypatch.context() as small_will_do:
            small_will_do.setattr(dense, "DENSE_MIN_NODES", 0)
            assert dense.is_dense_graph(edge_index.size(1), n)
            a_s, deg = dense.adj_times_rows(edge_index, w, s)
        want_a_s, want_deg = dense.adj_times_rows(edge_index, w, s)
        torch.testing.assert_close(a_s, want_a_s)
        torch.testing.assert_close(deg, want_deg)
        inputs = [s] if w is None else [s, w]
        got = torch.autograd.grad((a_s.square().sum() + deg.square().sum()), inputs)
        want = torch.autograd.grad(
            (want_a_s.square().sum() + want_deg.square().sum()), inputs
        )
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b)


def test_l1_distances_in_chunks_equal_one_gather(monkeypatch):
    from poolbench.pooling import losses

    g = torch.Generator().manual_seed(3)
    s = torch.rand(12, 5, generator=g)
    s[7] = s[3]  # a tie: |a - b| has gradient 0 there, on both paths
    s.requires_grad_()
    row = torch.randint(0, 12, (40,), generator=g)
    col = torch.randint(0, 12, (40,), generator=g)
    row[0], col[0] = 3, 7
    weight = torch.rand(40, generator=g)
    whole = losses.l1_distances(s, row, col)
    (want,) = torch.autograd.grad((weight * whole).sum(), [s])
    monkeypatch.setattr(losses, "L1_CHUNK_FLOATS", 12)  # chunks of 2 entries
    chunked = losses.l1_distances(s, row, col)
    assert chunked.grad_fn.name().endswith("_ChunkedL1Backward")
    (got,) = torch.autograd.grad((weight * chunked).sum(), [s])
    torch.testing.assert_close(chunked, whole)
    torch.testing.assert_close(got, want)
    assert chunked[0] == 0


@pytest.mark.parametrize("symmetric", [True, False])
def test_the_motif_cut_of_a_dense_graph_equals_the_edge_form(monkeypatch, symmetric):
    from poolbench.pooling import dense, losses

    g = torch.Generator().manual_seed(4)
    n, k = 11, 3
    keep = (torch.rand(n, n, generator=g) > 0.25) & ~torch.eye(n, dtype=torch.bool)
    if symmetric:
        keep = keep | keep.t()
    row, col = keep.nonzero().t()
    weight = torch.rand(row.numel(), generator=g)
    if symmetric:  # the input graph: symmetric weights, no gradient
        full = torch.zeros(n, n)
        full[row, col] = weight
        weight = torch.maximum(full, full.t())[row, col]
    else:  # a pooled graph: its weights carry gradients
        weight.requires_grad_()
    batch = torch.zeros(n, dtype=torch.long)

    def entries():  # built per use: the weights' graph is freed by each grad
        return dense.edge_entries(torch.stack([row, col]), weight, batch, torch.float)

    s = torch.rand(n, k, generator=g).softmax(-1).requires_grad_()
    inputs = [s] if symmetric else [s, weight]
    want = losses.cut_loss_pairs(losses.motif_pairs(entries()), s, batch, 1)
    want_grads = torch.autograd.grad(want, inputs)
    monkeypatch.setattr(dense, "DENSE_MIN_NODES", 0)  # a small graph will do
    assert dense.is_dense_graph(row.numel(), n)
    got = losses.motif_cut(entries(), s, batch, 1)
    torch.testing.assert_close(got, want)
    for a, b in zip(torch.autograd.grad(got, inputs), want_grads):
        torch.testing.assert_close(a, b)
