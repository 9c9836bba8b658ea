"""One contract test over every registered pooler (derived from the registry)."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Batch, Data

from poolbench.pooling import PoolOutput, discover
from tests.pooling.graphs import EDGE_CASES, path_graph, random_graph, with_weights

REGISTRY = discover()
FEATURES = 4


def build(cls, avg_nodes: float = 8.0, seed: int = 0):
    torch.manual_seed(seed)
    return cls(in_channels=FEATURES, ratio=0.5, avg_nodes=avg_nodes)


def pool(pooler, batch) -> PoolOutput:
    return pooler(
        batch.x, batch.edge_index, getattr(batch, "edge_weight", None), batch.batch
    )


@pytest.mark.parametrize("name", REGISTRY)
def test_metadata_declared(name):
    meta = REGISTRY[name].metadata()
    assert meta["family"] in {
        "none",
        "soft_clustering",
        "one_over_k",
        "score",
        "control",
    }
    assert all(isinstance(meta[k], bool) for k in meta if k != "family")
    cls = REGISTRY[name]
    assert cls.paper and cls.reference, "the catalogue needs paper and reference"
    if meta["can_cluster"]:
        # The community task trains S on the pooler's own losses.
        assert meta["trainable"] and meta["aux_loss"] and meta["dense"]
    if meta["precomputable"]:
        assert not meta["trainable"], "a precomputable pooler cannot learn"


@pytest.mark.parametrize("case", EDGE_CASES)
@pytest.mark.parametrize("name", REGISTRY)
def test_edge_cases_give_finite_valid_output(name, case):
    batch = EDGE_CASES[case]()
    pooler = build(REGISTRY[name])
    out = pool(pooler, batch)
    assert isinstance(out, PoolOutput)
    assert out.x.size(1) == pooler.out_channels
    assert torch.isfinite(out.x).all()
    if out.edge_index.numel():
        assert 0 <= int(out.edge_index.min()) and int(
            out.edge_index.max()
        ) < out.x.size(0)
    if out.edge_weight is not None:
        assert torch.isfinite(out.edge_weight).all()
    for loss_name, loss in out.aux_loss.items():
        assert loss.dim() == 0 and torch.isfinite(loss), loss_name
    # every graph of the batch keeps at least one pooled node, in order
    assert out.batch.unique().tolist() == list(range(batch.num_graphs))


@pytest.mark.parametrize("name", REGISTRY)
def test_gradients_reach_every_trainable_parameter(name):
    batch = Batch.from_data_list([random_graph(10, seed=s) for s in range(3)])
    pooler = build(REGISTRY[name], avg_nodes=10)
    x = batch.x.clone().requires_grad_(True)
    out = pooler(x, batch.edge_index, None, batch.batch)
    loss = out.x.pow(2).sum() + sum(out.aux_loss.values(), torch.tensor(0.0))
    if out.edge_weight is not None:
        loss = loss + out.edge_weight.sum()
    loss.backward()
    for pname, param in pooler.named_parameters():
        if param.requires_grad:
            assert param.grad is not None and torch.isfinite(param.grad).all(), pname
    if REGISTRY[name].trainable:
        assert any(p.requires_grad for p in pooler.parameters())


def _canonical(out: PoolOutput) -> tuple[torch.Tensor, torch.Tensor]:
    """Pooled features and dense adjacency (on the CPU), supernodes sorted by x."""
    x, edge_index = out.x.detach().cpu(), out.edge_index.cpu()
    w = (
        out.edge_weight.detach().cpu()
        if out.edge_weight is not None
        else torch.ones(edge_index.size(1))
    )
    # Ties in x (e.g. EigenPool's featureless singleton clusters) fall to the
    # pooled degree.
    deg = torch.zeros(x.size(0)).index_add(0, edge_index[0], w)
    order = torch.argsort(x[:, 0] + 1e-3 * x[:, 1] + 1e-6 * deg)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel())
    adj = torch.zeros(x.size(0), x.size(0))
    adj.index_put_((rank[edge_index[0]], rank[edge_index[1]]), w, accumulate=True)
    return x[order], adj


def _relabelled_graphs():
    """(graph, perm, the graph with node i renamed perm^-1[i]) on weighted
    random graphs of three sizes, two orders each: one graph let a pooler
    that broke ties by node index pass (EigenPool's two-node clusters)."""
    for seed, n in ((4, 12), (101, 10), (105, 18)):
        data = with_weights(random_graph(n, p=0.35, seed=seed), seed=seed + 1)
        for perm_seed in (6, 7):
            gen = torch.Generator().manual_seed(perm_seed)
            perm = torch.randperm(n, generator=gen)
            inv = torch.empty_like(perm)
            inv[perm] = torch.arange(n)
            permuted = data.clone()
            permuted.x = data.x[perm]
            permuted.edge_index = inv[data.edge_index]
            yield data, perm, permuted


@pytest.mark.parametrize("name", REGISTRY)
def test_pooled_graph_does_not_depend_on_node_order(name):
    cls = REGISTRY[name]
    if not cls.order_invariant:
        pytest.skip(f"{name} depends on node order by design")
    for data, _, permuted in _relabelled_graphs():
        outs = []
        for d in (data, permuted):
            pooler = build(cls, avg_nodes=d.num_nodes).eval()
            b = Batch.from_data_list([d])
            with torch.no_grad():
                outs.append(_canonical(pool(pooler, b)))
        torch.testing.assert_close(outs[0][0], outs[1][0], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(outs[0][1], outs[1][1], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", REGISTRY)
def test_deterministic_under_a_seed(name):
    batch = Batch.from_data_list([random_graph(10, seed=s) for s in range(2)])
    results = []
    for _ in range(2):
        torch.manual_seed(0)
        pooler = build(REGISTRY[name], avg_nodes=10)
        torch.manual_seed(1)
        results.append(pool(pooler, batch))
    torch.testing.assert_close(results[0].x, results[1].x)
    assert torch.equal(results[0].edge_index, results[1].edge_index)


@pytest.mark.parametrize(
    "name", [n for n, c in REGISTRY.items() if c.is_dense and c.keeps_ratio]
)
def test_dense_poolers_use_k_from_ratio(name):
    batch = Batch.from_data_list([random_graph(10, seed=s) for s in range(3)])
    pooler = build(REGISTRY[name], avg_nodes=10)
    out = pool(pooler, batch)
    assert out.x.size(0) == 3 * 5
    assert out.s is not None and out.s.shape[-1] == 5


@pytest.mark.parametrize(
    "name", [n for n, c in REGISTRY.items() if c.family == "score" and c.keeps_ratio]
)
def test_score_poolers_keep_ceil_ratio_nodes(name):
    sizes = [10, 7, 3]
    batch = Batch.from_data_list([random_graph(n, seed=n) for n in sizes])
    out = pool(build(REGISTRY[name]), batch)
    counts = torch.bincount(out.batch, minlength=3).tolist()
    assert counts == [5, 4, 2]


@pytest.mark.parametrize(
    "name", [n for n, c in REGISTRY.items() if c.family == "score" and c.keeps_ratio]
)
def test_score_poolers_keep_every_node_at_ratio_one(name):
    """PyG's topk reads ratio >= 1 as a count: 1.0 must still mean every node."""
    batch = Batch.from_data_list([random_graph(n, seed=n) for n in (6, 4)])
    torch.manual_seed(0)
    out = pool(REGISTRY[name](in_channels=FEATURES, ratio=1.0, avg_nodes=5), batch)
    assert torch.bincount(out.batch, minlength=2).tolist() == [6, 4]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
@pytest.mark.parametrize("name", REGISTRY)
def test_cpu_and_cuda_give_the_same_pooled_graph(name):
    cls = REGISTRY[name]
    if not cls.order_invariant:
        pytest.skip(f"{name} draws from the device's own random stream")
    batch = EDGE_CASES["weighted_batch"]()
    cpu = build(cls, avg_nodes=8).eval()
    gpu = build(cls, avg_nodes=8).eval().cuda()
    gpu.load_state_dict(cpu.state_dict())
    with torch.no_grad():
        a = _canonical(pool(cpu, batch))
        b = _canonical(pool(gpu, batch.to("cuda")))
    torch.testing.assert_close(a[0], b[0].cpu(), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(a[1], b[1].cpu(), atol=1e-4, rtol=1e-4)


def _lift(pooler, batch, x=None):
    x = batch.x if x is None else x
    out = pooler(x, batch.edge_index, getattr(batch, "edge_weight", None), batch.batch)
    return out, pooler.lift(out.x, out)


def _kept(out: PoolOutput, num_nodes: int) -> torch.Tensor:
    """Which input nodes the pooled graph covers: S row sums, or cluster >= 0."""
    if out.s is not None:
        return out.s.sum(-1)[out.info["mask"]]
    return (out.info["cluster"] >= 0).float()


@pytest.mark.parametrize("case", EDGE_CASES)
@pytest.mark.parametrize("name", REGISTRY)
def test_lift_maps_pooled_features_back_to_every_input_node(name, case):
    batch = EDGE_CASES[case]()
    pooler = build(REGISTRY[name])
    assert REGISTRY[name].can_lift
    out, lifted = _lift(pooler, batch)
    assert lifted.shape == (batch.num_nodes, pooler.out_channels // _modes(out))
    assert torch.isfinite(lifted).all()
    # A constant pooled signal comes back as that constant on every node the
    # pooler keeps (S rows sum to 1; one-hot or kept positions) and 0 elsewhere.
    ones = torch.ones_like(out.x)
    back = pooler.lift(ones, out)
    if "theta" in out.info:  # EigenPool: each node gets the sum of its modes
        expected = out.info["theta"].sum(-1) * (out.info["cluster"] >= 0)
    else:
        expected = _kept(out, batch.num_nodes)
        # Dense: every row of S sums to 1; sparse: kept (1) or dropped (0).
        assert torch.all((expected == 0) | ((expected - 1).abs() < 1e-5))
        if out.s is not None:
            assert torch.all((expected - 1).abs() < 1e-5)
    torch.testing.assert_close(back, expected.unsqueeze(-1).expand_as(back))


def _modes(out: PoolOutput) -> int:
    return out.info["theta"].size(1) if "theta" in out.info else 1


@pytest.mark.parametrize("name", REGISTRY)
def test_lift_of_a_batch_is_the_lift_of_each_graph(name):
    graphs = [random_graph(9, seed=1), path_graph(5), random_graph(7, seed=3)]
    cls = REGISTRY[name]
    if not cls.order_invariant:
        pytest.skip(f"{name} draws per forward or by node position")
    lifted = []
    for data in [Batch.from_data_list(graphs)] + [
        Batch.from_data_list([g]) for g in graphs
    ]:
        pooler = build(cls, avg_nodes=8).eval()
        with torch.no_grad():
            lifted.append(_lift(pooler, data)[1])
    torch.testing.assert_close(lifted[0], torch.cat(lifted[1:]), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", REGISTRY)
def test_lift_passes_gradients_to_the_pooled_features_and_the_input(name):
    batch = Batch.from_data_list([random_graph(10, seed=s) for s in range(3)])
    pooler = build(REGISTRY[name], avg_nodes=10)
    x = batch.x.clone().requires_grad_(True)
    out = pooler(x, batch.edge_index, None, batch.batch)
    x_pooled = out.x.detach().requires_grad_(True)
    pooler.lift(x_pooled, out).pow(2).sum().backward(retain_graph=True)
    assert x_pooled.grad is not None and torch.isfinite(x_pooled.grad).all()
    assert x_pooled.grad.abs().sum() > 0
    # Through the pooled features too: pool, lift, and reach the input.
    x.grad = None
    pooler.lift(out.x, out).pow(2).sum().backward()
    assert (
        x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    )


@pytest.mark.parametrize("name", REGISTRY)
def test_lift_follows_the_nodes_when_they_are_permuted(name):
    cls = REGISTRY[name]
    if not cls.order_invariant:
        pytest.skip(f"{name} depends on node order by design")
    for data, perm, permuted in _relabelled_graphs():
        outs = []
        for d in (data, permuted):
            pooler = build(cls, avg_nodes=d.num_nodes).eval()
            with torch.no_grad():
                outs.append(_lift(pooler, Batch.from_data_list([d]))[1])
        torch.testing.assert_close(outs[0][perm], outs[1], atol=1e-5, rtol=1e-4)


def _tied_cycle(n: int) -> Data:
    """A cycle whose nodes carry one feature vector: every node has the same
    score under any scorer, as nodes message passing cannot tell apart do."""
    src = torch.arange(n)
    ring = torch.stack([src, (src + 1) % n])
    return Data(
        x=torch.linspace(-1, 1, FEATURES).repeat(n, 1),
        edge_index=torch.cat([ring, ring.flip(0)], 1),
    )


@pytest.mark.parametrize(
    "name", [n for n, c in REGISTRY.items() if c.family == "score" and c.keeps_ratio]
)
def test_a_graph_keeps_the_same_tied_nodes_whatever_batch_it_is_in(name):
    """Among equal scores, the kept nodes are chosen by position in the graph,
    never by the batch: PyG's unstable sort kept nodes 0-3 of a tied 8-cycle
    alone and 4-7 after a graph of 16 or 100 nodes, so a graph's embedding
    changed with its batch."""
    cls = REGISTRY[name]
    if not cls.order_invariant:
        pytest.skip(f"{name} draws its scores by node position")
    graph = _tied_cycle(8)
    kept = []
    for graphs in ([graph], [_tied_cycle(16), graph], [_tied_cycle(100), graph]):
        pooler = build(cls).eval()
        with torch.no_grad():
            out = pool(pooler, Batch.from_data_list(graphs))
        mine = out.info["cluster"][-graph.num_nodes :]  # the last graph's nodes
        kept.append(sorted((mine >= 0).nonzero().view(-1).tolist()))
    assert kept[0] == kept[1] == kept[2]


@pytest.mark.parametrize("case", EDGE_CASES)
@pytest.mark.parametrize("name", [n for n, c in REGISTRY.items() if c.expressive])
def test_an_expressive_pooler_assigns_every_node_with_constant_row_sums(name, case):
    """What ``expressive`` claims in the catalogue (Bianchi & Lachi 2023): every
    node is assigned, S's rows sum to one constant. A sigmoid in place of a
    softmax would keep the flag and break the claim."""
    batch = EDGE_CASES[case]()
    out = pool(build(REGISTRY[name]), batch)
    if out.s is not None:
        sums = out.s.sum(-1)[out.info["mask"]]
        assert torch.allclose(sums, sums[0].expand_as(sums), atol=1e-5), (
            f"{name}: S row sums {sums.min():.4f}..{sums.max():.4f}, not one constant"
        )
        assert sums[0] > 0
    else:
        cluster = out.info["cluster"]
        assert (cluster >= 0).all(), f"{name} drops nodes yet declares expressive"


@pytest.mark.parametrize("name", REGISTRY)
def test_a_sparse_pooler_says_where_each_node_went(name):
    """``info["cluster"]`` (or a dense S) is what LIFT and the evaluations read;
    a pooler without it trains on graphs and fails only in a U-Net."""
    out = pool(build(REGISTRY[name]), EDGE_CASES["mixed_batch"]())
    if out.s is None:
        cluster = out.info.get("cluster")
        assert cluster is not None, f"{name}: set info['cluster'] [N]"
        assert cluster.shape == (EDGE_CASES["mixed_batch"]().num_nodes,)


def test_every_pooler_class_in_the_package_is_registered():
    """An unregistered class under poolers/ trains through its import path,
    files its rows under it, and the contract tests above skip it."""
    import importlib
    import inspect
    import pkgutil

    from poolbench.pooling import Pooler, poolers

    registered = set(REGISTRY.values())
    for module in pkgutil.iter_modules(poolers.__path__):
        mod = importlib.import_module(f"{poolers.__name__}.{module.name}")
        for _, cls in inspect.getmembers(mod, inspect.isclass):
            if cls.__module__ == mod.__name__ and issubclass(cls, Pooler):
                assert cls in registered, f"{cls.__qualname__} lacks @register"


def test_a_pooler_without_a_family_is_refused_when_registered():
    """Found at import, in one line; it was an AttributeError in `list poolers`
    and the catalogue, for every pooler."""
    from poolbench.errors import PoolbenchError
    from poolbench.pooling import Pooler
    from poolbench.pooling.registry import register

    class NoFamily(Pooler):
        pass

    with pytest.raises(PoolbenchError, match="declare family = one of 'none'"):
        register("no_family_here")(NoFamily)
    assert "no_family_here" not in discover()
