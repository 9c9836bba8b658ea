"""Community level: the model, the baselines and a learned pooler on an SBM."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from poolbench.data.communities import load_lfr, load_sbm, node_count
from poolbench.models.community import CommunityGNN
from poolbench.pooling import discover
from poolbench.tasks.clustering_metrics import clustering_scores

REGISTRY = discover()


def small_sbm(aligned=True, signal=3.0):
    return load_sbm("unused", nodes=120, blocks=3, p_in=0.25, p_out=0.01,
                    feature_dim=8, feature_signal=signal, aligned=aligned)  # fmt: skip


def test_sbm_plants_its_blocks_and_aligns_features_on_request():
    d = small_sbm()
    assert d.num_classes == 3 and d.graph.y.bincount().tolist() == [40, 40, 40]
    src, dst = d.graph.edge_index
    inside = (d.graph.y[src] == d.graph.y[dst]).float().mean()
    assert inside > 0.8  # p_in 0.25 against p_out 0.01
    same = load_sbm("unused", nodes=120, blocks=3, p_in=0.25, p_out=0.01,
                    feature_dim=8)  # fmt: skip
    assert torch.equal(same.graph.edge_index, small_sbm().graph.edge_index)

    def spread(ds):  # distance of the class means of the features
        x, y = ds.graph.x, ds.graph.y
        means = torch.stack([x[y == c].mean(0) for c in range(3)])
        return torch.cdist(means, means).max()

    assert spread(small_sbm(aligned=True)) > 3 * spread(small_sbm(aligned=False))
    # the count task=community checks K against before generating
    assert node_count(nodes=120, blocks=3) == d.num_nodes
    assert load_sbm.node_count() == load_sbm("unused").num_nodes == 1000


def test_a_generated_graph_is_named_by_the_settings_it_does_not_share():
    """Two p_out values are two datasets: under one name they were ranked
    in one table column and shared one folder of split files."""
    assert load_sbm("unused").name == "SBM"
    assert load_sbm("unused", feature_signal=3).name == "SBM"  # 3 == 3.0
    harder = load_sbm("unused", nodes=200, p_out=0.05, aligned=False)
    assert harder.name == "SBM-nodes200-p_out0.05-alignedfalse"
    assert load_sbm("unused", seed=1).name == "SBM-seed1"
    assert load_lfr("unused", nodes=250, average_degree=5, max_degree=30,
                    min_community=20, max_community=80).name == (
        "LFR-nodes250-average_degree5-max_degree30-max_community80"
    )  # fmt: skip


def test_lfr_generates_its_communities():
    d = load_lfr("unused", nodes=250, average_degree=5, max_degree=30,
                 min_community=20, max_community=80)  # fmt: skip
    assert d.num_nodes == 250 == load_lfr.node_count(nodes=250, mu=0.1)
    assert d.num_classes >= 3
    assert d.graph.y.bincount().min() >= 20


def cluster_with(name, d, k, epochs=0):
    cls = REGISTRY[name]
    torch.manual_seed(0)
    layers = 1 if cls.trainable else 0
    model = CommunityGNN(
        d.num_features, lambda c: cls(in_channels=c, ratio=1.0, avg_nodes=k),
        mp="gcn", hidden=16, layers=layers,
    )  # fmt: skip
    g = d.graph
    batch = torch.zeros(d.num_nodes, dtype=torch.long)
    if epochs:
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        for _ in range(epochs):
            out = model(g.x, g.edge_index, None, batch)
            loss = sum(out.aux_loss.values())
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    out = model(g.x, g.edge_index, None, batch)
    assert out.s.shape == (d.num_nodes, k)
    return clustering_scores(g.y, out.s.argmax(-1), g.edge_index, None)


@pytest.mark.parametrize("name", ["kmeans", "spectral"])
def test_baselines_recover_clear_blocks_without_training(name):
    # features 6 noise-widths apart for k-means; spectral reads the graph only
    assert cluster_with(name, small_sbm(signal=6.0), 3)["nmi"] > 0.95


def test_kmeans_on_features_unaligned_with_the_blocks_misses_them():
    assert cluster_with("kmeans", small_sbm(aligned=False), 3)["nmi"] < 0.3


@pytest.mark.parametrize("name", ["mincut", "dmon"])
def test_a_clustering_pooler_learns_the_blocks_from_its_own_losses(name):
    assert cluster_with(name, small_sbm(), 3, epochs=150)["nmi"] > 0.9


def test_cluster_ids_follow_first_appearance_even_with_empty_clusters():
    from poolbench.pooling.poolers.kmeans import by_first_appearance, kmeans_clusters

    assert by_first_appearance(np.array([5, 5, 2, 9, 2])).tolist() == [0, 0, 1, 2, 1]
    # 4 distinct points asked for 6 clusters: k-means leaves some empty
    x = torch.tensor([[0.0], [0.0], [1.0], [1.0], [2.0], [3.0]])
    ids = kmeans_clusters(x, torch.zeros(6, dtype=torch.long), 6, seed=0)
    assert sorted(set(ids.tolist())) == list(range(int(ids.max()) + 1))


@pytest.mark.parametrize("n_init", [1, 3])
def test_kmeans_pool_runs_scikit_learn_per_graph_with_its_n_init(n_init):
    from sklearn.cluster import KMeans

    from poolbench.pooling.poolers.kmeans import KMeansPool, by_first_appearance

    torch.manual_seed(7)
    x = torch.randn(25, 4)
    batch = torch.tensor([0] * 12 + [1] * 13)
    edge_index = torch.tensor([[0, 1, 12, 13], [1, 0, 13, 12]])
    pool = KMeansPool(4, ratio=0.5, avg_nodes=8.0, n_init=n_init)  # K = 4
    cluster = pool(x, edge_index, None, batch).info["cluster"]
    seed = torch.initial_seed() % 2**31
    expected, offset = [], 0
    for rows in (slice(0, 12), slice(12, 25)):
        fit = KMeans(4, n_init=n_init, random_state=seed).fit(x[rows].double().numpy())
        labels = by_first_appearance(fit.labels_)
        expected += (labels + offset).tolist()
        offset += int(labels.max()) + 1
    assert cluster.tolist() == expected


def test_kmeans_pool_refuses_n_init_below_one():
    from poolbench.pooling.poolers.kmeans import KMeansPool

    with pytest.raises(ValueError, match="n_init must be >= 1"):
        KMeansPool(4, n_init=0)


def test_a_collapsed_clustering_records_one_cluster_used():
    """Rows carry the non-empty clusters (avg_nodes_pooled), which conductance
    must be read with: an S that puts every node in one of K = 4 clusters used
    one (the row said K before)."""
    from poolbench.pooling import PoolOutput
    from poolbench.tasks.community import CommunityDetection
    from poolbench.tasks.whole_graph import WholeGraph

    d = small_sbm()

    class OneCluster(torch.nn.Module):
        def forward(self, x, edge_index, edge_weight, batch):
            s = torch.zeros(x.size(0), 4)
            s[:, 2] = 1.0
            return PoolOutput(x[:4], edge_index[:, :0], None, batch[:4], s=s)

    task = CommunityDetection({"num_clusters": 4}, d)
    graph = WholeGraph.of(d, None)
    metrics = task.evaluate(OneCluster(), [graph], torch.device("cpu"))
    assert metrics.sizes == (120.0, 1.0)
    assert metrics.scores["conductance"] == 0.0  # why it needs the count
