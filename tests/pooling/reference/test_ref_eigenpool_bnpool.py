"""EigenPool and BN-Pool against tgp (torch-geometric-pool) and scikit-learn.

EigenPool: tgp clusters with an unseeded scikit-learn SpectralClustering, so
the clusters are compared with scikit-learn's (seeded) on graphs with clear
clusters, and Θ, RED, CON and LIFT with tgp's given our clusters, up to the
sign convention of each eigenvector (documented in eigenpool.py).
BN-Pool: S and the losses equal with copied weights and the same random
draws; K_prior differs by tgp's extra 1/B on batches (documented).
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.utils import to_undirected

from poolbench.pooling.dense import to_padded
from poolbench.pooling.poolers.bnpool import BNPool
from poolbench.pooling.poolers.eigenpool import EigenPool, spectral_clusters
from tests.pooling.graphs import path_graph, random_graph, with_weights

tgp = pytest.importorskip("tgp")
from tgp.connect import EigenPoolConnect  # noqa: E402
from tgp.lift import EigenPoolLift  # noqa: E402
from tgp.poolers import BNPool as TgpBNPool  # noqa: E402
from tgp.utils.ops import postprocess_adj_pool_dense  # noqa: E402

eigen_select = importlib.import_module("tgp.select.eigenpool_select")
ATOL = 1e-5


def cliques(sizes: list[int], seed: int = 0) -> Data:
    """Cliques joined in a ring by one edge each, node order shuffled."""
    edges, start = [], 0
    for s in sizes:
        edges += [(start + i, start + j) for i in range(s) for j in range(i + 1, s)]
        start += s
    ends = np.cumsum(sizes) - 1
    starts = ends + 1 - np.array(sizes)
    m = len(sizes)
    edges += [(int(ends[i]), int(starts[(i + 1) % m])) for i in range(m)]
    perm = torch.randperm(start, generator=torch.Generator().manual_seed(seed))
    ei = perm[torch.tensor(edges).t()]
    return Data(x=torch.randn(start, 4), edge_index=to_undirected(ei, num_nodes=start))


def partition(labels) -> list[list[int]]:
    labels = np.asarray(labels)
    return sorted(
        sorted(np.flatnonzero(labels == k).tolist()) for k in np.unique(labels)
    )


@pytest.mark.parametrize("sizes", [[5, 5, 5], [4, 6, 5, 7], [8, 3, 6]])
def test_spectral_clusters_equal_sklearn_on_clear_clusters(sizes):
    cluster = pytest.importorskip("sklearn.cluster")
    g = cliques(sizes, seed=len(sizes))
    n = g.num_nodes
    adj = np.zeros((n, n))
    adj[g.edge_index[0].numpy(), g.edge_index[1].numpy()] = 1.0
    k = len(sizes)
    sk = cluster.SpectralClustering(
        k, affinity="precomputed", n_init=10, random_state=0
    )
    assert partition(spectral_clusters(adj, k)) == partition(sk.fit(adj).labels_)


def _theta_and_sign(adj, labels, k, modes, ours_theta):
    """tgp's Θ [N, K H] read per node, and the sign aligning ours to it."""
    theta = eigen_select.build_pooling_matrix(adj, labels, modes, True, k)
    node = np.arange(adj.shape[0])
    ref = np.stack([theta[node, m * k + labels] for m in range(modes)], 1)
    sign = np.ones((k, modes))
    for c in np.unique(labels):
        for m in range(modes):
            rows = labels == c
            if np.dot(ref[rows, m], ours_theta[rows, m]) < 0:
                sign[c, m] = -1
    return theta, ref, sign


def test_eigenpool_theta_red_con_lift_equal_tgp_given_the_clusters():
    g = with_weights(cliques([5, 4, 6], seed=1), seed=1)
    g.x = torch.randn(g.num_nodes, 3, generator=torch.Generator().manual_seed(0))
    modes, k = 5, 3
    pool = EigenPool(3, ratio=1.0, avg_nodes=k, num_modes=modes)
    batch = torch.zeros(g.num_nodes, dtype=torch.long)
    out = pool(g.x, g.edge_index, g.edge_weight, batch)
    labels = out.info["cluster"].numpy()
    adj = torch.zeros(g.num_nodes, g.num_nodes)
    adj[g.edge_index[0], g.edge_index[1]] = g.edge_weight
    ours_theta = out.info["theta"].double().numpy()
    theta, ref, sign = _theta_and_sign(
        adj.double().numpy(), labels, k, modes, ours_theta
    )
    np.testing.assert_allclose(ours_theta * sign[labels], ref, atol=1e-6)
    # RED: Θ^T X in cluster-major blocks [K, H F]; flip our blocks to tgp's sign.
    theta_t = torch.as_tensor(theta, dtype=torch.float32)
    raw = theta_t.t() @ g.x
    ref_x = raw.view(modes, k, -1).permute(1, 0, 2).reshape(k, -1)
    flip = torch.as_tensor(sign, dtype=torch.float32).repeat_interleave(3, 1)
    torch.testing.assert_close(out.x * flip, ref_x, atol=ATOL, rtol=1e-5)
    # CON: Ω^T A_ext Ω, degree-normalised, as tgp's EigenPoolConnect.
    omega = torch.nn.functional.one_hot(out.info["cluster"], k).float()
    coarse = EigenPoolConnect._coarsen_dense_adj(adj, omega).unsqueeze(0)
    ref_adj = postprocess_adj_pool_dense(coarse, True, True)[0]
    ours_adj = torch.zeros(k, k)
    ours_adj[out.edge_index[0], out.edge_index[1]] = out.edge_weight
    torch.testing.assert_close(ours_adj, ref_adj, atol=ATOL, rtol=1e-5)
    # LIFT: Θ X' (with the sign-aligned pooled features, both agree).
    lifted = pool.lift(out.x, out)
    ref_lift = EigenPoolLift._lift_with_theta(theta_t, out.x * flip, k)
    torch.testing.assert_close(lifted, ref_lift, atol=ATOL, rtol=1e-5)


def test_eigenpool_singletons_and_small_clusters_follow_the_authors():
    """With ``singleton=self_loop`` a singleton's modes are its self-loop
    weight (authors' code, tgp); by default the 1 x 1 Laplacian's eigenvector,
    1. A 2-node cluster repeats its last eigenvector for modes 3.. (both)."""
    adj = np.zeros((3, 3))
    adj[0, 1] = adj[1, 0] = 2.0
    labels = np.array([0, 0, 1])
    from poolbench.pooling.poolers.eigenpool import mode_coefficients

    np.testing.assert_allclose(mode_coefficients(adj, labels, 4)[2], 1.0)
    theta = mode_coefficients(adj, labels, 4, singleton="self_loop")
    np.testing.assert_allclose(theta[2], 0.0)
    r = 1 / np.sqrt(2)
    np.testing.assert_allclose(np.abs(theta[:2]), r)
    np.testing.assert_allclose(theta[:2, 2], theta[:2, 1])
    np.testing.assert_allclose(theta[:2, 3], theta[:2, 1])


@pytest.mark.parametrize("draws", ["same seed", "fixed"])
def test_bnpool_equals_tgp_with_copied_weights_and_draws(draws, monkeypatch):
    """One graph: the same seed gives both the same Beta draws. A batch: ours
    draws for the real nodes only, tgp for the padded rows too, so the draws
    are fixed (each Beta draw replaced by a deterministic function of its
    parameters, the same on both sides) and everything else must agree."""
    if draws == "fixed":
        from torch.distributions import Beta

        monkeypatch.setattr(
            Beta, "rsample", lambda self, shape=(): self.mean * 0.7 + 0.1
        )
    graphs = [
        with_weights(random_graph(9, p=0.4, seed=1), seed=1),
        with_weights(path_graph(6), seed=2),
        with_weights(random_graph(5, p=0.6, seed=3), seed=3),
    ]
    torch.manual_seed(0)
    ours = BNPool(4, ratio=0.5, avg_nodes=8)
    twin = TgpBNPool(in_channels=4, k=ours.num_clusters)
    with torch.no_grad():
        twin.selector.mlp.lins[0].weight.copy_(ours.mlp.weight)
        twin.selector.mlp.lins[0].bias.copy_(ours.mlp.bias)
    for size in (3, 1) if draws == "fixed" else (1,):
        b = Batch.from_data_list(graphs[:size])
        x, adj, mask = to_padded(b.x, b.edge_index, b.edge_weight, b.batch)
        torch.manual_seed(5)
        out = ours(b.x, b.edge_index, b.edge_weight, b.batch)
        torch.manual_seed(5)
        ref = twin(x=x, adj=adj, mask=mask)
        torch.testing.assert_close(out.s, ref.so.s, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(out.x.view(size, -1, 4), ref.x, atol=ATOL, rtol=1e-5)
        for key in ("quality", "kl"):
            torch.testing.assert_close(out.aux_loss[key], ref.loss[key].detach())
        # tgp divides K_prior once more by the batch size.
        torch.testing.assert_close(out.aux_loss["K_prior"], size * ref.loss["K_prior"])


def test_bnpool_evaluates_with_posterior_mean_sticks():
    b = Batch.from_data_list([random_graph(8, seed=2)])
    torch.manual_seed(0)
    pool = BNPool(4, ratio=0.5, avg_nodes=8).eval()
    out = pool(b.x, b.edge_index, None, b.batch)
    x, _, mask = to_padded(b.x, b.edge_index, None, b.batch)
    a, bb = torch.clamp(torch.nn.functional.softplus(pool.mlp(x)), 1e-3, 1e3).chunk(
        2, -1
    )
    v = a / (a + bb)
    expected = torch.cat([v, torch.ones_like(v[..., :1])], -1)
    expected[..., 1:] *= torch.cumprod(1 - v, -1)
    torch.testing.assert_close(out.s, expected, atol=1e-6, rtol=1e-5)
