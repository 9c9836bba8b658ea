"""The packed fast path gives exactly what PyG's DataLoader gives: batches and runs."""

from __future__ import annotations

import pytest
import torch
from hydra import compose, initialize_config_dir
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from poolbench.data.batching import PackedGraphs, PackedLoader
from poolbench.experiment import Experiment
from poolbench.hydra_app import CONF_DIR
from poolbench.training.seeding import seed_everything
from poolbench.training.trainer import evaluate, fit

CPU = torch.device("cpu")


def batches_of(loader):
    return [(b.x, b.edge_index, b.batch, b.y.view(-1), b.num_graphs) for b in loader]


def assert_same_batches(a, b):
    assert len(a) == len(b)
    for left, right in zip(a, b):
        assert left[4] == right[4]
        for u, v in zip(left[:4], right[:4]):
            assert torch.equal(u, v)


@pytest.mark.parametrize("generator_seed", [1, None])
def test_packed_loader_matches_dataloader_batches_and_rng_use(mutag, generator_seed):
    """Same batches, same order, and the same random numbers left for dropout."""
    packed = PackedGraphs.from_graphs(mutag.graphs, CPU)
    index = list(range(3, 170, 2))  # a split: not contiguous, not from 0

    def epochs(make):
        torch.manual_seed(7)
        gen = None if generator_seed is None else torch.Generator()
        if gen is not None:
            gen.manual_seed(generator_seed)
        train, val = make(index, True, gen, 16), make(index[:21], False, None, 8)
        seen = []
        for _ in range(3):
            seen += batches_of(train) + batches_of(val)
            seen.append((torch.rand(3),) * 4 + (0,))  # global RNG state after
        return seen

    plain = epochs(
        lambda i, s, g, bs: DataLoader(
            [mutag.graphs[k] for k in i], batch_size=bs, shuffle=s, generator=g
        )
    )
    fast = epochs(lambda i, s, g, bs: PackedLoader(packed, i, bs, s, g))
    assert_same_batches(plain, fast)


# nmf carries a dense S per node, eigenpool its mode coefficients theta
@pytest.mark.parametrize("pooler", ["graclus", "kmis", "nmf", "eigenpool"])
def test_an_epoch_of_precomputed_topologies_cut_at_once_equals_batch_by_batch(
    mutag, tmp_path, pooler
):
    """Two pooling levels: each batch's topology as the per-batch gather gives."""
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[
                f"pooler={pooler}",
                f"data.root={tmp_path}",
                "model.blocks=[1,1,1]",
            ],
        )
    packed = Experiment(cfg, mutag).packed_graphs()
    assert len(packed.levels) == 2
    ids = torch.randperm(len(packed), generator=torch.Generator().manual_seed(1))
    for size in (1, 13, 500):
        together = packed.batches(ids, size)
        one_by_one = [packed.batch(ids[i : i + size]) for i in range(0, len(ids), size)]
        for left, right in zip(together, one_by_one, strict=True):
            for a, b in zip(left.topology, right.topology, strict=True):
                assert a.keys() == b.keys()
                for key in a:
                    assert torch.equal(a[key], b[key]), key


def test_unshuffled_batches_are_built_once_and_reused(mutag, monkeypatch):
    """Validation and test batches are the same every epoch: gathered once."""
    packed = PackedGraphs.from_graphs(mutag.graphs, CPU)
    calls = []
    original = PackedGraphs.batches
    monkeypatch.setattr(
        PackedGraphs,
        "batches",
        lambda self, ids, size: calls.append(1) or original(self, ids, size),
    )
    loader = PackedLoader(packed, list(range(40)), 16, shuffle=False)
    first, second = batches_of(loader), batches_of(loader)
    assert len(first) == 3 and len(calls) == 1  # built in the first epoch only
    assert_same_batches(first, second)
    shuffled = PackedLoader(packed, list(range(40)), 16, True, torch.Generator())
    batches_of(shuffled), batches_of(shuffled)
    assert len(calls) == 3  # shuffled batches differ per epoch: rebuilt


@pytest.mark.parametrize("size", [1, 7, 32, 500])
def test_an_epoch_gathered_at_once_equals_batch_by_batch(mutag, size):
    packed = PackedGraphs.from_graphs(mutag.graphs, CPU)
    ids = torch.randperm(len(packed), generator=torch.Generator().manual_seed(0))
    together = packed.batches(ids, size)
    one_by_one = [packed.batch(ids[i : i + size]) for i in range(0, len(ids), size)]
    assert_same_batches(batches_of(together), batches_of(one_by_one))


def test_edge_weights_ride_along_and_mixed_weights_are_refused():
    graphs = [
        Data(
            x=torch.randn(n, 2),
            edge_index=torch.tensor([[0, 1], [1, 0]]),
            edge_weight=torch.tensor([0.5 * n, 2.0]),
            y=torch.tensor([n % 2]),
        )
        for n in (2, 3, 4)
    ]
    packed = PackedGraphs.from_graphs(graphs, CPU)
    (fast,) = list(PackedLoader(packed, [2, 0, 1], 3))
    (plain,) = list(DataLoader([graphs[2], graphs[0], graphs[1]], batch_size=3))
    assert torch.equal(fast.edge_weight, plain.edge_weight)
    assert torch.equal(fast.edge_index, plain.edge_index)
    graphs[1].edge_weight = None
    with pytest.raises(ValueError, match="edge_weight"):
        PackedGraphs.from_graphs(graphs, CPU)


def experiment(mutag, data_root, *overrides):
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[
                f"data.root={data_root}",
                "trainer.max_epochs=4",
                "trainer.patience=2",
                "model.dropout=0.2",  # dropout draws from the global RNG
                *overrides,
            ],
        )
    return Experiment(cfg, mutag)


def one_run(exp, split):
    gen = seed_everything(123)
    model = exp.make_model(CPU)
    train = exp.loader(split.train, shuffle=True, generator=gen)
    val = exp.loader(split.val, shuffle=False, generator=None)
    res = fit(model, train, val, exp.trainer, CPU)
    test = evaluate(model, exp.loader(split.test, shuffle=False, generator=None), CPU)
    return res, test


@pytest.mark.parametrize("pooler", ["mincut", "topk", "graclus", "kmis"])
def test_fit_gives_the_same_numbers_on_the_fast_and_plain_paths(
    mutag, data_root, pooler
):
    """Speed never changes results: fast data (and precomputed pooling for the
    topology poolers) against PyG's DataLoader with pooling on the fly."""
    plain = experiment(
        mutag,
        data_root,
        f"pooler={pooler}",
        "trainer.fast_data=false",
        "trainer.precompute=false",
    )
    fast = experiment(mutag, data_root, f"pooler={pooler}")
    assert fast.trainer.fast_data and not plain.trainer.fast_data
    assert fast.config_hash == plain.config_hash
    split = plain.splits()[0]
    (res_a, test_a), (res_b, test_b) = one_run(plain, split), one_run(fast, split)
    assert res_a.epochs == res_b.epochs and res_a.best_epoch == res_b.best_epoch
    for rec_a, rec_b in zip(res_a.history, res_b.history, strict=True):
        for key in rec_a:
            assert rec_a[key] == pytest.approx(rec_b[key], abs=1e-6), key
    assert test_a.acc == pytest.approx(test_b.acc, abs=1e-6)
    assert test_a.loss == pytest.approx(test_b.loss, abs=1e-6)
    assert res_a.avg_nodes_pooled == pytest.approx(res_b.avg_nodes_pooled)


def test_a_loader_already_on_the_device_is_itself_when_placed(mutag):
    from poolbench.training.trainer import placed

    loader = PackedLoader(PackedGraphs.from_graphs(mutag.graphs, CPU), [0, 1], 2)
    assert placed(loader, CPU) is loader  # its kept batches survive evaluate()
