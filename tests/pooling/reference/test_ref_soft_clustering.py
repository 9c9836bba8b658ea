"""Soft-clustering poolers against tgp (torch-geometric-pool) and PyG's DMoN.

Parameter-free parts (losses, RED, CON) are compared under one S; whole poolers
once the MLP weights are copied across. Known deviations are tested against the
tgp building blocks they are made of (see each pooler's docstring).
"""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch

from poolbench.pooling import discover
from poolbench.pooling import losses as ours
from poolbench.pooling.connect import dense_connect
from poolbench.pooling.dense import to_padded
from poolbench.pooling.reduce import dense_reduce
from tests.pooling.graphs import no_edges, path_graph, random_graph, with_weights

tgp = pytest.importorskip("tgp")
from tgp import poolers as tgp_poolers  # noqa: E402
from tgp.connect import DenseConnect  # noqa: E402
from tgp.utils import losses as ref  # noqa: E402

REGISTRY = discover()
ATOL = 1e-5
K = 4


def make_batch(edgeless: bool = True) -> Batch:
    graphs = [
        with_weights(random_graph(9, p=0.4, seed=1), seed=1),
        with_weights(path_graph(6), seed=2),
        with_weights(random_graph(5, p=0.6, seed=3), seed=3),
    ]
    if edgeless:
        graphs.append(no_edges(4))
        graphs[-1].edge_weight = torch.empty(0)
    return Batch.from_data_list(graphs)


def dense_inputs(edgeless: bool = True):
    b = make_batch(edgeless)
    x, adj, mask = to_padded(b.x, b.edge_index, b.edge_weight, b.batch)
    g = torch.Generator().manual_seed(0)
    s = torch.softmax(torch.randn(*mask.shape, K, generator=g), -1) * mask.unsqueeze(-1)
    return b, x, adj, mask, s


def close(a, b):
    torch.testing.assert_close(
        torch.as_tensor(a).float(), torch.as_tensor(b).float(), atol=ATOL, rtol=1e-5
    )


def test_losses_match_tgp_under_the_same_s():
    _, _, adj, mask, s = dense_inputs()
    sas = s.transpose(1, 2) @ adj @ s
    close(ours.mincut_loss(adj, s), ref.mincut_loss(adj, s, sas))
    close(ours.orthogonality_loss(s), ref.orthogonality_loss(s))
    close(ours.spectral_loss(adj, s), ref.spectral_loss(adj, s, sas, mask))
    close(ours.cluster_loss(s, mask), ref.cluster_loss(s, mask))
    close(ours.totvar_loss(adj, s), ref.totvar_loss(s, adj))
    close(ours.asym_norm_loss(s, mask), ref.asym_norm_loss(s, K, mask))
    close(ours.balance_loss(s, mask), ref.just_balance_loss(s, mask))
    close(ours.hosc_orthogonality_loss(s, mask), ref.hosc_orthogonality_loss(s, mask))
    m = ours.triangle_adjacency(adj)
    close(ours.mincut_loss(m, s), ref.mincut_loss(m, s, s.transpose(1, 2) @ m @ s))


def test_diffpool_losses_match_tgp_graph_by_graph():
    """tgp pools the whole batch into one norm; ours averages graphs (see diffpool)."""
    _, _, adj, mask, s = dense_inputs()
    per_graph = {"link": [], "link_n": [], "entropy": []}
    for i in range(adj.size(0)):
        n = int(mask[i].sum())
        a_i, s_i, m_i = adj[i : i + 1, :n, :n], s[i : i + 1, :n], mask[i : i + 1, :n]
        close(ours.link_loss(a_i, s_i, m_i), ref.link_pred_loss(s_i, a_i, False))
        close(ours.link_loss(a_i, s_i, m_i, True), ref.link_pred_loss(s_i, a_i, True))
        close(ours.entropy_loss(s_i, m_i), ref.entropy_loss(s_i, n))
        per_graph["link"].append(ours.link_loss(a_i, s_i, m_i))
        per_graph["link_n"].append(ours.link_loss(a_i, s_i, m_i, True))
        per_graph["entropy"].append(ours.entropy_loss(s_i, m_i))
    close(ours.link_loss(adj, s, mask), torch.stack(per_graph["link"]).mean())
    close(ours.link_loss(adj, s, mask, True), torch.stack(per_graph["link_n"]).mean())
    close(ours.entropy_loss(s, mask), torch.stack(per_graph["entropy"]).mean())


def test_red_and_con_match_tgp_under_the_same_s():
    _, x, adj, _, s = dense_inputs()
    close(dense_reduce(x, s), s.transpose(1, 2) @ x)
    conn = DenseConnect(remove_self_loops=True, degree_norm=True)
    expected, _ = conn._forward_batched_inputs(adj, s)
    close(dense_connect(adj, s, remove_loops=True, degree_norm=True), expected)


def _dense_pooled_adj(out, num_graphs: int, k: int) -> torch.Tensor:
    a = torch.zeros(num_graphs * k, num_graphs * k)
    a[out.edge_index[0], out.edge_index[1]] = out.edge_weight
    return torch.stack(
        [a[i * k : (i + 1) * k, i * k : (i + 1) * k] for i in range(num_graphs)]
    )


# name -> (tgp class, tgp kwargs, ours kwargs, {our loss key: tgp loss key})
PAIRS = {
    "mincut": (
        tgp_poolers.MinCutPooling,
        {},
        {},
        {"cut": "cut_loss", "ortho": "ortho_loss"},
    ),
    "diffpool": (
        tgp_poolers.DiffPool,
        {},
        {},
        {"link": "link_loss", "entropy": "entropy_loss"},
    ),
    "dmon": (
        tgp_poolers.DMoNPooling,
        {"ortho_loss_coeff": 0.5},
        {"ortho_coeff": 0.5},
        {"spectral": "spectral_loss", "cluster": "cluster_loss", "ortho": "ortho_loss"},
    ),
    "acc": (
        tgp_poolers.AsymCheegerCutPooling,
        {},
        {},
        {"totvar": "total_variation_loss", "balance": "balance_loss"},
    ),
    "justbalance": (
        tgp_poolers.JustBalancePooling,
        {},
        {},
        {"balance": "balance_loss"},
    ),
    "hosc": (
        tgp_poolers.HOSCPooling,
        {"hosc_ortho": True},
        {"hosc_ortho": True},
        {"ortho": "ortho_loss"},
    ),
}


@pytest.mark.parametrize("name", PAIRS)
def test_whole_pooler_matches_tgp_with_copied_weights(name):
    cls, tgp_kw, our_kw, keys = PAIRS[name]
    torch.manual_seed(0)
    pooler = REGISTRY[name](in_channels=4, ratio=0.5, avg_nodes=8, **our_kw)
    assert pooler.num_clusters == K
    twin = cls(in_channels=4, k=K, **tgp_kw)
    with torch.no_grad():
        twin.selector.mlp.lins[0].weight.copy_(pooler.select.mlp[0].weight)
        twin.selector.mlp.lins[0].bias.copy_(pooler.select.mlp[0].bias)
    # DiffPool's losses agree graph by graph only: compare them on one graph.
    batches = [make_batch(), Batch.from_data_list([make_batch()[0]])]
    for b in batches:
        x, adj, mask = to_padded(b.x, b.edge_index, b.edge_weight, b.batch)
        out = pooler(b.x, b.edge_index, b.edge_weight, b.batch)
        expected = twin(x=x, adj=adj, mask=mask)
        close(out.s, expected.so.s)
        close(out.x.view(b.num_graphs, K, -1), expected.x)
        close(_dense_pooled_adj(out, b.num_graphs, K), expected.edge_index)
        if name == "diffpool" and b.num_graphs > 1:
            continue
        for key, tgp_key in keys.items():
            close(out.aux_loss[key], expected.loss[tgp_key].detach())


def test_hosc_loss_is_tgp_mincut_on_pre_normalised_a_and_triangle_motif():
    """tgp's own HOSC uses A^3 and a zeroed diagonal (see hosc.py); we use its parts."""
    b, x, adj, mask, _ = dense_inputs()
    torch.manual_seed(0)
    pooler = REGISTRY["hosc"](in_channels=4, ratio=0.5, avg_nodes=8, alpha=0.3)
    out = pooler(b.x, b.edge_index, b.edge_weight, b.batch)
    s = out.s
    m = (adj @ adj) * adj
    cut = ref.mincut_loss(adj, s, s.transpose(1, 2) @ adj @ s)
    ho = ref.mincut_loss(m, s, s.transpose(1, 2) @ m @ s)
    close(out.aux_loss["hosc"], (0.7 * cut + 0.3 * ho) / K)
    close(out.aux_loss["ortho"], 0.1 * ref.orthogonality_loss(s))


def test_dmon_matches_pyg_on_a_single_graph():
    """PyG's DMoNPooling agrees for one graph (its batch handling is what we fix)."""
    from torch_geometric.nn import DMoNPooling

    b = Batch.from_data_list([with_weights(random_graph(10, p=0.4, seed=7), seed=7)])
    x, adj, mask = to_padded(b.x, b.edge_index, b.edge_weight, b.batch)
    torch.manual_seed(0)
    pooler = REGISTRY["dmon"](in_channels=4, ratio=0.5, avg_nodes=8, ortho_coeff=1.0)
    pyg = DMoNPooling(channels=4, k=K)
    with torch.no_grad():
        pyg.mlp.lins[0].weight.copy_(pooler.select.mlp[0].weight)
        pyg.mlp.lins[0].bias.copy_(pooler.select.mlp[0].bias)
    out = pooler(b.x, b.edge_index, b.edge_weight, b.batch)
    s, _, _, spectral, ortho, cluster = pyg(x, adj, mask)
    close(out.s, s)
    close(out.aux_loss["spectral"], spectral)
    close(out.aux_loss["cluster"], cluster)
    close(out.aux_loss["ortho"], ortho)


def test_nmf_matches_tgp_structure_and_factorises_as_well_as_sklearn():
    decomposition = pytest.importorskip("sklearn.decomposition")
    from tgp.select import NMFSelect

    from poolbench.pooling.poolers.nmf import NMFPool, nmf_factors

    # Graphs with N <= K: tgp's NMFSelect gives one cluster per node, as ours.
    small = Batch.from_data_list([path_graph(3)])
    tgp_s = NMFSelect(k=K)(
        small.edge_index, batch=small.batch, num_nodes=3, fixed_k=True
    ).s
    pool = NMFPool(in_channels=4, ratio=0.5, avg_nodes=8)
    close(pool(small.x, small.edge_index, None, small.batch).s[0], tgp_s)
    # Larger graphs: same objective ||A - W H||_F as scikit-learn's solver.
    b = Batch.from_data_list([with_weights(random_graph(16, p=0.3, seed=9), seed=9)])
    _, adj, mask = to_padded(b.x, b.edge_index, b.edge_weight, b.batch)
    w, ht = nmf_factors(adj, mask, K, iterations=200)
    err = torch.linalg.matrix_norm(adj[0].double() - w[0] @ ht[0].t()).item()
    a = adj[0].double().numpy()
    sk_w, sk_h, _ = decomposition.non_negative_factorization(
        a, n_components=K, init="nndsvda", solver="mu", max_iter=200, tol=0
    )
    sk_err = ((a - sk_w @ sk_h) ** 2).sum() ** 0.5
    assert err <= 1.05 * sk_err
    # RED and CON of the NMF pooler are tgp's under the same S.
    out = pool(b.x, b.edge_index, b.edge_weight, b.batch)
    x, adj, _ = to_padded(b.x, b.edge_index, b.edge_weight, b.batch)
    expected, _ = DenseConnect()._forward_batched_inputs(adj, out.s)
    close(_dense_pooled_adj(out, 1, K), expected)
    close(out.x, (out.s.transpose(1, 2) @ x)[0])
