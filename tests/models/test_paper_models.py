"""The paper models on hand-checkable graphs, and how the runner builds them."""

from __future__ import annotations

import math

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from torch import nn

from poolbench.config_files import CONF_DIR
from poolbench.data.dataset import GraphDataset
from poolbench.errors import PoolbenchError
from poolbench.experiment import Experiment, config_hash
from poolbench.models.errica import (
    DeepMultisets,
    ErricaDiffPool,
    ErricaGIN,
    MolecularFingerprint,
)
from poolbench.models.mp import GraphConvSkip

# a path 0-1-2 (both directions) and an isolated node 3; graphs {0,1,2} and {3}
X = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0]])
EDGES = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
BATCH = torch.tensor([0, 0, 0, 1])


def set_linear(layer: nn.Linear, weight, bias=None):
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight, dtype=torch.float))
        if layer.bias is not None:
            layer.bias.copy_(torch.tensor(bias or [0.0] * layer.out_features))


def test_molecular_fingerprint_sums_raw_features_then_mlp_and_ignores_edges():
    model = MolecularFingerprint(2, 2, hidden=2)
    set_linear(model.mlp[0], [[1, 0], [0, -1]])
    set_linear(model.mlp[2], [[1, 1], [1, -1]], [0.0, -1.0])
    out = model(X, EDGES, None, BATCH, 2).logits
    # sums: graph 0 [2, 2], graph 1 [2, 0]; hidden relu([2,-2])=[2,0], [2,0]
    # logits relu([2, 2-1]) = [2, 1] for both
    assert torch.allclose(out, torch.tensor([[2.0, 1.0], [2.0, 1.0]]))
    no_edges = model(X, EDGES[:, :0], None, BATCH, 2).logits
    assert torch.equal(out, no_edges)


def test_deep_multisets_applies_the_node_layer_before_the_sum():
    model = DeepMultisets(2, 1, hidden=1)
    set_linear(model.node, [[1, -1]])
    set_linear(model.graph, [[1]])
    set_linear(model.out, [[1]])
    out = model(X, EDGES, None, BATCH, 2).logits
    # node values relu(x0 - x1): 1, 0, 0 | 2 -> sums 1 | 2
    assert torch.allclose(out.view(-1), torch.tensor([1.0, 2.0]))


def test_graph_conv_skip_uses_the_symmetric_normalised_adjacency():
    layer = GraphConvSkip(2, 2)
    set_linear(layer.rel, [[1, 0], [0, 1]])
    set_linear(layer.root, [[0, 0], [0, 0]], [0.5, 0.0])
    out = layer(X, EDGES)
    r2 = 1 / math.sqrt(2)  # degrees 1, 2, 1: A_01 = A_12 = 1/sqrt(1*2)
    want = torch.tensor(
        [[r2 * 0, r2 * 1], [r2 * 2, r2 * 1], [r2 * 0, r2 * 1], [0.0, 0.0]]
    ) + torch.tensor([0.5, 0.0])
    assert torch.allclose(out, want, atol=1e-6)
    weighted = layer(X, EDGES, torch.tensor([2.0, 2.0, 2.0, 2.0]))
    assert torch.allclose(weighted, out, atol=1e-6)  # normalisation cancels scale


def test_errica_gin_eval_dropout_on_the_input_term_is_their_quirk_and_optional():
    torch.manual_seed(0)
    model = ErricaGIN(2, 3, hidden_units=[4, 4], dropout=0.5).eval()
    a, b = (model(X, EDGES, None, BATCH, 2).logits for _ in range(2))
    assert not torch.equal(a, b)  # layer 0's dropout stays on in evaluation
    model.input_dropout_in_eval = False
    a, b = (model(X, EDGES, None, BATCH, 2).logits for _ in range(2))
    assert torch.equal(a, b)
    assert len(model.convs) == 2 and len(model.linears) == 3


def test_errica_diffpool_sizes_clusters_from_the_largest_graph():
    torch.manual_seed(0)
    model = ErricaDiffPool(2, 2, max_nodes=10, pooler_params={})
    # ceil(0.25 * 10) = 3 clusters, then ceil(0.25 * 3) = 1
    assert model.pool_gnns[0].conv3.out_channels == 3
    assert model.pool_gnns[1].conv3.out_channels == 1
    assert model.lin1.in_features == 3 * (2 * 64 + 128)
    out = model.train()(X, EDGES, None, BATCH, 2)
    assert out.logits.shape == (2, 2) and torch.isfinite(out.logits).all()
    assert set(out.aux_loss) == {"pool/link", "pool/entropy"}
    with pytest.raises(ValueError, match="link_normalize"):
        ErricaDiffPool(2, 2, 10, {"link_normalize": True})


def composed(*overrides):
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=list(overrides))


def tiny_dataset() -> GraphDataset:
    from torch_geometric.data import Data

    graphs = [
        Data(x=X[:3], edge_index=EDGES, y=torch.tensor([0])),
        Data(x=X[3:], edge_index=EDGES[:, :0], y=torch.tensor([1])),
    ]
    return GraphDataset("TINY", graphs, 2, {})


def test_the_runner_injects_sizes_and_pooler_settings():
    cfg = composed("experiment=errica2020", "pooler.link_coeff=0.5")
    model = Experiment(cfg, tiny_dataset()).make_model(torch.device("cpu"))
    assert isinstance(model, ErricaDiffPool) and model.link_coeff == 0.5
    assert model.pool_gnns[0].conv3.out_channels == 1  # ceil(0.25 * 3 nodes)
    wrong = composed("experiment=errica2020", "pooler=mincut")
    with pytest.raises(PoolbenchError, match="builds its own diffpool"):
        Experiment(wrong, tiny_dataset()).make_model(torch.device("cpu"))
    assert Experiment(cfg, tiny_dataset()).model_name == "ErricaDiffPool"


def test_lr_step_off_keeps_old_config_ids_and_on_changes_them():
    cfg = composed()
    without = cfg.copy()
    OmegaConf.set_struct(without, False)
    del without.trainer["lr_step"], without.trainer["lr_gamma"]
    assert config_hash(cfg) == config_hash(without)
    assert config_hash(composed("trainer.lr_step=50")) != config_hash(cfg)
