import pytest
import torch
from torch_geometric.data import Batch

from poolbench.models.hierarchical import HierarchicalGNN
from poolbench.models.mp import MP_KINDS
from poolbench.pooling import get_pooler
from poolbench.tasks.graph import GraphClassification
from tests.pooling.graphs import no_edges, random_graph, single_node


def factory(name: str, ratio: float = 0.5):
    def make(level, in_channels, avg_nodes):
        return get_pooler(name)(
            in_channels=in_channels, ratio=ratio, avg_nodes=avg_nodes
        )

    return make


def batch():
    graphs = [random_graph(n, seed=n) for n in (12, 7, 9)] + [
        single_node(),
        no_edges(4),
    ]
    for i, g in enumerate(graphs):
        g.y = torch.tensor([i % 3])
    return Batch.from_data_list(graphs)


def forward(model, b):
    return model(b.x, b.edge_index, None, b.batch, b.num_graphs)


@pytest.mark.parametrize("pooler", ["none", "mincut", "topk"])
@pytest.mark.parametrize("mp", MP_KINDS)
def test_output_shapes_and_gradients_reach_every_parameter(pooler, mp):
    torch.manual_seed(0)
    model = HierarchicalGNN(
        4,
        3,
        factory(pooler),
        avg_nodes=8,
        blocks=[2, 1, 1],
        mp=mp,
        hidden=16,
        mlp_hidden=8,
    )
    b = batch()
    out = forward(model, b)
    assert out.logits.shape == (5, 3)
    assert len(out.pooled_nodes) == 2
    GraphClassification().loss(out, b).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"no gradient reaches {name}"


def test_flat_model_has_no_pooler_and_keeps_the_layer_count():
    flat = HierarchicalGNN(4, 3, None, avg_nodes=8, blocks=[3], hidden=16)
    identity = HierarchicalGNN(
        4, 3, factory("none"), avg_nodes=8, blocks=[2, 1], hidden=16
    )
    assert len(flat.poolers) == 0
    # the flat baseline and pooler=none have the same parameters: a fair control
    assert sum(p.numel() for p in flat.parameters()) == sum(
        p.numel() for p in identity.parameters()
    )
    b = batch()
    assert forward(flat, b).logits.shape == (5, 3)


def test_aux_losses_enter_the_training_loss():
    torch.manual_seed(0)
    model = HierarchicalGNN(
        4, 3, factory("mincut"), avg_nodes=8, blocks=[1, 1], hidden=8
    )
    b = batch()
    out = forward(model, b)
    assert set(out.aux_loss) == {"pool0/cut", "pool0/ortho"}
    ce = torch.nn.functional.cross_entropy(out.logits, b.y)
    expected = ce + out.aux_loss["pool0/cut"] + out.aux_loss["pool0/ortho"]
    loss = GraphClassification().loss(out, b)  # what the trainer minimises
    torch.testing.assert_close(loss, expected)
    assert not torch.isclose(loss, ce)


def test_each_level_gets_avg_nodes_shrunk_by_the_ratio():
    model = HierarchicalGNN(
        4, 2, factory("mincut", 0.5), avg_nodes=20, blocks=[1, 1, 1]
    )
    assert [p.num_clusters for p in model.poolers] == [10, 5]


def test_readout_keeps_graphs_aligned_with_labels_when_a_graph_pools_to_nothing():
    # A readout without size= drops trailing empty graphs (PyG 2895); ours keeps B rows.
    model = HierarchicalGNN(4, 2, None, avg_nodes=4, blocks=[1], hidden=8)
    b = batch()
    x = b.x[b.batch < 4]
    keep = b.batch < 4
    out = model(x, b.edge_index[:, keep[b.edge_index[0]]], None, b.batch[keep], 5)
    assert out.logits.shape == (5, 2)


def test_train_and_eval_reach_every_module():
    """HierarchicalGNN.train sets the flags without the recursive walk: every
    submodule must still follow, and dropout must be off in eval."""
    from poolbench.models.hierarchical import HierarchicalGNN
    from poolbench.pooling import get_pooler

    def make(level, c, n):
        return get_pooler("mincut")(in_channels=c, ratio=0.5, avg_nodes=n)

    m = HierarchicalGNN(3, 2, make, avg_nodes=6, blocks=[1, 1], dropout=0.5)
    assert m.eval() is m
    assert not any(sub.training for sub in m.modules())
    m.train()
    assert all(sub.training for sub in m.modules())
    m.train(False)
    assert not any(sub.training for sub in m.modules())
