"""Precomputed pooling equals pooling on the fly, and its disk cache is keyed right."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.loader import DataLoader

from poolbench.data.batching import PackedGraphs, PackedLoader
from poolbench.data.dataset import GraphDataset
from poolbench.pooling import get_pooler
from poolbench.pooling.precompute import cache_key, load_or_compute

CPU = torch.device("cpu")
TOPOLOGY_POOLERS = ["graclus", "ndp", "kmis", "sep", "eigenpool"]


def poolers(name, levels, **params):
    return [get_pooler(name)(in_channels=8, **params) for _ in range(levels)]


def on_the_fly(chain, batch):
    """Each level's ``precompute`` on the batch, level l+1 on level l's output."""
    edge_index, edge_weight, nodes = batch.edge_index, None, batch.batch
    out = []
    for pooler in chain:
        topo = pooler.precompute(edge_index, edge_weight, nodes)
        out.append(topo)
        edge_index, edge_weight, nodes = (
            topo["edge_index"],
            topo["edge_weight"],
            topo["batch"],
        )
    return out


@pytest.mark.parametrize("name", TOPOLOGY_POOLERS)
def test_cached_topology_equals_the_one_computed_on_each_batch(mutag, tmp_path, name):
    graphs = mutag.graphs[:60]
    chain = poolers(name, levels=2)
    result = load_or_compute(chain, graphs, tmp_path, "k")
    packed = PackedGraphs.from_graphs(graphs, CPU)
    packed.levels = result.levels
    order = torch.randperm(60, generator=torch.Generator().manual_seed(0)).tolist()
    fast = PackedLoader(packed, order, 13)
    plain = DataLoader([graphs[i] for i in order], batch_size=13)
    for fast_batch, plain_batch in zip(fast, plain, strict=True):
        expected = on_the_fly(chain, plain_batch)
        for level, (got, want) in enumerate(zip(fast_batch.topology, expected)):
            assert got.keys() == want.keys()
            for key in ("cluster", "edge_index", "batch"):
                assert torch.equal(got[key], want[key]), (level, key)
            torch.testing.assert_close(got["edge_weight"], want["edge_weight"])
            if "theta" in want:  # EigenPool's per-node mode coefficients
                torch.testing.assert_close(got["theta"], want["theta"])


@pytest.mark.parametrize("name", TOPOLOGY_POOLERS)
def test_model_output_is_the_same_with_precomputed_topology(mutag, tmp_path, name):
    from poolbench.models.hierarchical import HierarchicalGNN

    def make(level, c, n):
        return get_pooler(name)(in_channels=c, avg_nodes=n)

    torch.manual_seed(0)
    model = HierarchicalGNN(7, 2, make, 18.0, blocks=[1, 1, 1], hidden=8).eval()
    graphs = mutag.graphs[:40]
    packed = PackedGraphs.from_graphs(graphs, CPU)
    packed.levels = load_or_compute(model.poolers, graphs, tmp_path, "m").levels
    (b,) = list(PackedLoader(packed, range(40), 40))
    assert b.topology is not None and len(b.topology) == 2
    args = (b.x, b.edge_index, None, b.batch, b.num_graphs)
    with torch.no_grad():
        torch.testing.assert_close(
            model(*args, topology=b.topology).logits, model(*args).logits
        )


def test_cache_is_reused_and_invalidated_by_data_or_pooler_config(mutag, tmp_path):
    kmis = get_pooler("kmis")
    graphs = mutag.graphs[:30]
    key = cache_key(mutag.fingerprint, kmis, {"order_k": 1}, 1)
    first = load_or_compute(poolers("kmis", 1), graphs, tmp_path, key)
    again = load_or_compute(poolers("kmis", 1), graphs, tmp_path, key)
    assert not first.from_cache and again.from_cache and first.path == again.path
    assert torch.equal(first.levels[0].cluster, again.levels[0].cluster)

    # Other data: one edge fewer in one graph changes the fingerprint and the key.
    changed = [g.clone() for g in mutag.graphs]
    changed[0].edge_index = changed[0].edge_index[:, 2:]
    other = GraphDataset(mutag.name, changed, mutag.num_classes, mutag.params)
    assert other.fingerprint != mutag.fingerprint
    data_key = cache_key(other.fingerprint, kmis, {"order_k": 1}, 1)
    # Another pooler config, or another number of levels, or another pooler.
    config_key = cache_key(mutag.fingerprint, kmis, {"order_k": 2}, 1)
    level_key = cache_key(mutag.fingerprint, kmis, {"order_k": 1}, 2)
    pooler_key = cache_key(mutag.fingerprint, get_pooler("graclus"), {}, 1)
    assert len({key, data_key, config_key, level_key, pooler_key}) == 5
    rebuilt = load_or_compute(
        poolers("kmis", 1, order_k=2), graphs, tmp_path, config_key
    )
    assert not rebuilt.from_cache
    assert not torch.equal(rebuilt.levels[0].cluster, first.levels[0].cluster)


def test_a_torn_cache_file_is_recomputed(mutag, tmp_path):
    graphs = mutag.graphs[:10]
    first = load_or_compute(poolers("graclus", 1), graphs, tmp_path, "t")
    first.path.write_bytes(b"not a torch file")
    again = load_or_compute(poolers("graclus", 1), graphs, tmp_path, "t")
    assert not again.from_cache
    assert torch.equal(again.levels[0].cluster, first.levels[0].cluster)


def test_experiment_precomputes_once_and_rows_can_claim_the_time(mutag, data_root):
    from tests.data.test_batching import experiment

    exp = experiment(mutag, data_root, "pooler=graclus")
    split = exp.splits()[0]
    loader = exp.loader(split.train, shuffle=True, generator=None)
    assert loader.packed.levels, "graclus batches should carry their topology"
    assert exp.take_precompute_sec() > 0
    fold_exp = exp.with_overrides({"trainer.lr": 0.01})  # shares the cache
    fold_exp.loader(split.val, shuffle=False, generator=None)
    assert fold_exp.take_precompute_sec() == 0.0
    off = experiment(mutag, data_root, "pooler=graclus", "trainer.precompute=false")
    assert not off.loader(split.train, shuffle=False, generator=None).packed.levels
    learned = experiment(mutag, data_root, "pooler=topk")
    assert not learned.precomputes_pooling


def test_nmf_precomputed_assignment_and_pooled_graph_equal_the_per_graph_forward(
    mutag, tmp_path
):
    """The cache holds each graph's own S (and pooled graph): a batch built from
    it equals NMF run on each graph alone, and the forward is RED only."""
    nmf = get_pooler("nmf")(in_channels=7, avg_nodes=18.0)
    graphs = mutag.graphs[:12]
    result = load_or_compute([nmf], graphs, tmp_path, "nmf")
    packed = PackedGraphs.from_graphs(graphs, CPU)
    packed.levels = result.levels
    (b,) = list(PackedLoader(packed, range(12), 12))
    fast = nmf(b.x, b.edge_index, None, b.batch, topology=b.topology[0])
    k = nmf.num_clusters
    for g, data in enumerate(graphs):
        alone = nmf(data.x, data.edge_index, None, torch.zeros(data.num_nodes).long())
        rows = b.batch == g
        torch.testing.assert_close(fast.s[g][: data.num_nodes], alone.s[0])
        assert fast.s[g][data.num_nodes :].abs().sum() == 0
        torch.testing.assert_close(fast.x[g * k : (g + 1) * k], alone.x)
        torch.testing.assert_close(
            nmf.lift(fast.x, fast)[rows], nmf.lift(alone.x, alone)
        )
    # The pooled edges of the batch are each graph's own, shifted.
    ei = torch.cat(
        [
            nmf.precompute(d.edge_index, None, torch.zeros(d.num_nodes).long())[
                "edge_index"
            ]
            + g * k
            for g, d in enumerate(graphs)
        ],
        1,
    )
    assert torch.equal(fast.edge_index, ei)


def test_nmf_on_the_fly_batch_equals_the_precomputed_one(mutag, tmp_path):
    """Each graph is factorised alone on both paths: the same S, whatever the
    batch (trainer.precompute is not part of the config hash)."""
    nmf = get_pooler("nmf")(in_channels=7, avg_nodes=18.0)
    graphs = mutag.graphs[:32]
    packed = PackedGraphs.from_graphs(graphs, CPU)
    packed.levels = load_or_compute([nmf], graphs, tmp_path, "nmf2").levels
    (b,) = list(PackedLoader(packed, range(32), 32))
    fast = nmf(b.x, b.edge_index, None, b.batch, topology=b.topology[0])
    slow = nmf(b.x, b.edge_index, None, b.batch)
    torch.testing.assert_close(fast.s, slow.s)
    torch.testing.assert_close(fast.x, slow.x)
    assert torch.equal(fast.edge_index, slow.edge_index)
    torch.testing.assert_close(fast.edge_weight, slow.edge_weight)


def test_a_pool_ratio_of_its_own_gets_its_own_topology(mutag, data_root):
    # nmf sizes K from the ratio: a grid point (or a rerun) with another ratio
    # was served the cached topology of the first (same numbers, or a crash)
    from tests.data.test_batching import experiment

    exp = experiment(mutag, data_root, "pooler=nmf", "model.pool_ratio=0.5")
    half = exp.packed_graphs().levels[0]
    quarter = exp.with_overrides({"model.pool_ratio": 0.25}).packed_graphs().levels[0]
    k_half = int(half.pooled.ptr_cpu.diff().max())
    k_quarter = int(quarter.pooled.ptr_cpu.diff().max())
    assert (k_half, k_quarter) == (9, 5)  # K = ceil(ratio * 17.9 average nodes)
    again = exp.with_overrides({"model.pool_ratio": 0.5}).packed_graphs().levels[0]
    assert again is half  # the same sizing still shares the cache
