"""The graph classifiers of Errica et al. (2020), as their code builds them.

"A Fair Comparison of Graph Neural Networks for Graph Classification", ICLR
2020 (https://arxiv.org/abs/1912.09893); the architectures follow the authors'
models in github.com/diningphil/gnn-comparison, written anew here. They are
whole models, not poolbench's shared backbone: a reproduction needs the
paper's model, and the differences from the backbone are the point of it.
Each takes the sparse batch and returns :class:`ModelOutput`, like
:class:`~poolbench.models.hierarchical.HierarchicalGNN`, so the trainer and
protocol need no special case. Selected with ``model._target_`` (see
``conf/model/errica_*.yaml``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import (
    DenseSAGEConv,
    GINConv,
    dense_diff_pool,
    global_add_pool,
    global_mean_pool,
)
from torch_geometric.utils import to_dense_adj, to_dense_batch

from poolbench.models.hierarchical import ModelOutput


class MolecularFingerprint(nn.Module):
    """Their chemical baseline: sum the raw node features, then a 2-layer MLP.

    ``logits = ReLU(W2 ReLU(W1 sum_v x_v))``; the final ReLU on the logits is
    in their code and kept. Edges are never read.
    """

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 32):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(in_channels, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
            nn.ReLU(),
        )

    def forward(self, x, edge_index, edge_weight, batch, num_graphs, topology=None):
        return ModelOutput(self.mlp(global_add_pool(x, batch, size=num_graphs)))


class DeepMultisets(nn.Module):
    """Their ENZYMES and social baseline: a node-wise layer, sum, a 2-layer MLP.

    ``logits = W3 ReLU(W2 sum_v ReLU(W1 x_v))``. Edges are never read.
    """

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 32):
        super().__init__()
        self.node = nn.Linear(in_channels, hidden)
        self.graph = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, num_classes)

    def forward(self, x, edge_index, edge_weight, batch, num_graphs, topology=None):
        h = global_add_pool(torch.relu(self.node(x)), batch, size=num_graphs)
        return ModelOutput(self.out(torch.relu(self.graph(h))))


def _gin_mlp(size_in: int, size_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(size_in, size_out),
        nn.BatchNorm1d(size_out),
        nn.ReLU(),
        nn.Linear(size_out, size_out),
        nn.BatchNorm1d(size_out),
        nn.ReLU(),
    )


class ErricaGIN(nn.Module):
    """Their GIN: an MLP on the input, GIN layers, a linear readout per layer.

    Layer 0 is an MLP (Linear-BN-ReLU-Linear-BN-ReLU) of width
    ``hidden_units[0]``; one ``GINConv`` with such an MLP follows per entry of
    ``hidden_units``. Every layer's node states are pooled (``readout``) and
    mapped to class scores by its own linear layer, with dropout; the scores
    are summed. Their code applies layer 0's dropout in evaluation too
    (``F.dropout`` without ``training=``); ``input_dropout_in_eval`` keeps that.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        hidden_units: list[int],
        train_eps: bool = True,
        readout: str = "sum",
        dropout: float = 0.5,
        input_dropout_in_eval: bool = True,
    ):
        super().__init__()
        if readout not in ("sum", "mean"):
            raise ValueError(f"ErricaGIN readout must be sum or mean, not {readout!r}")
        if not hidden_units:
            raise ValueError("ErricaGIN needs at least one entry in hidden_units")
        dims = [hidden_units[0], *hidden_units]
        self.first = _gin_mlp(in_channels, dims[0])
        self.convs = nn.ModuleList(
            GINConv(_gin_mlp(dims[i - 1], dims[i]), train_eps=train_eps)
            for i in range(1, len(dims))
        )
        self.linears = nn.ModuleList(nn.Linear(d, num_classes) for d in dims)
        self.pool = global_add_pool if readout == "sum" else global_mean_pool
        self.dropout = dropout
        self.input_dropout_in_eval = input_dropout_in_eval

    def forward(self, x, edge_index, edge_weight, batch, num_graphs, topology=None):
        x = self.first(x)
        first_drop = self.training or self.input_dropout_in_eval
        # layer 0 pools after its linear map, the others before: as in their code
        out = F.dropout(
            self.pool(self.linears[0](x), batch, size=num_graphs),
            p=self.dropout,
            training=first_drop,
        )
        for conv, linear in zip(self.convs, self.linears[1:]):
            x = conv(x, edge_index)
            out = out + F.dropout(
                linear(self.pool(x, batch, size=num_graphs)),
                p=self.dropout,
                training=self.training,
            )
        return ModelOutput(out)


class _SAGEBlock(nn.Module):
    """Three dense GraphSAGE layers (ReLU and batch norm after the first two),
    their outputs concatenated; with ``lin``, a linear map of the concatenation."""

    def __init__(self, size_in: int, hidden: int, size_out: int, lin: bool):
        super().__init__()
        self.conv1 = DenseSAGEConv(size_in, hidden)
        self.conv2 = DenseSAGEConv(hidden, hidden)
        self.conv3 = DenseSAGEConv(hidden, size_out)
        self.bn1 = nn.BatchNorm1d(hidden)
        self.bn2 = nn.BatchNorm1d(hidden)
        self.lin = nn.Linear(2 * hidden + size_out, size_out) if lin else None

    @staticmethod
    def _bn(bn: nn.BatchNorm1d, x: Tensor) -> Tensor:
        # over every padded row of the batch, as their code does
        b, n, c = x.shape
        return bn(x.reshape(-1, c)).reshape(b, n, c)

    def forward(self, x: Tensor, adj: Tensor, mask: Tensor | None) -> Tensor:
        x1 = self._bn(self.bn1, torch.relu(self.conv1(x, adj, mask)))
        x2 = self._bn(self.bn2, torch.relu(self.conv2(x1, adj, mask)))
        x3 = self.conv3(x2, adj, mask)
        out = torch.cat([x1, x2, x3], dim=-1)
        return self.lin(out) if self.lin is not None else out


class ErricaDiffPool(nn.Module):
    """Their DiffPool: GraphSAGE embedding and assignment GNNs per level.

    Level ``l`` has ``K_l`` clusters: ``K_0 = ceil(c * max_nodes)`` with
    ``c = 0.25`` for two levels (0.1 for one), then ``K_{l+1} = ceil(c K_l)``.
    ``S = softmax(SAGE_pool(X, A))``, ``Z = SAGE_embed(X, A)`` (3 layers,
    concatenated), ``X' = S^T Z``, ``A' = S^T A S`` (PyG's ``dense_diff_pool``,
    whose link loss is ``||A - S S^T||_F / (B N^2)`` and entropy the mean row
    entropy). The max over nodes of every level's output and of a last SAGE
    block are concatenated, then ``Linear-ReLU-Linear``.

    ``pooler_params`` are the settings of the ``diffpool`` pooler config:
    ``link_coeff`` and ``entropy_coeff`` weight the two losses (1 in theirs).
    """

    builtin_pooler = "diffpool"

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        max_nodes: int,
        pooler_params: dict,
        num_layers: int = 2,
        gnn_hidden: int = 64,
        dim_embedding: int = 128,
        mlp_hidden: int = 50,
    ):
        super().__init__()
        self.link_coeff, self.entropy_coeff = _diffpool_coeffs(pooler_params)
        coarse = 0.1 if num_layers == 1 else 0.25
        clusters = math.ceil(coarse * max_nodes)
        embed_out = 2 * gnn_hidden + dim_embedding
        size = in_channels
        self.pool_gnns, self.embed_gnns = nn.ModuleList(), nn.ModuleList()
        for _ in range(num_layers):
            self.pool_gnns.append(_SAGEBlock(size, gnn_hidden, clusters, lin=True))
            self.embed_gnns.append(
                _SAGEBlock(size, gnn_hidden, dim_embedding, lin=False)
            )
            size = embed_out
            clusters = math.ceil(clusters * coarse)
        self.final = _SAGEBlock(embed_out, gnn_hidden, dim_embedding, lin=False)
        self.lin1 = nn.Linear(embed_out * (num_layers + 1), mlp_hidden)
        self.lin2 = nn.Linear(mlp_hidden, num_classes)

    def forward(self, x, edge_index, edge_weight, batch, num_graphs, topology=None):
        x, mask = to_dense_batch(x, batch, batch_size=num_graphs)
        adj = to_dense_adj(
            edge_index,
            batch,
            edge_weight,
            max_num_nodes=x.size(1),
            batch_size=num_graphs,
        )
        pooled, link, entropy, sizes = [], 0.0, 0.0, []
        for level, (gnn_pool, gnn_embed) in enumerate(
            zip(self.pool_gnns, self.embed_gnns)
        ):
            m = mask if level == 0 else None
            s = gnn_pool(x, adj, m)
            z = gnn_embed(x, adj, m)
            x, adj, link_l, ent_l = dense_diff_pool(z, adj, s, m)
            link, entropy = link + link_l, entropy + ent_l
            pooled.append(x.max(dim=1).values)
            sizes.append(x.size(0) * x.size(1))
        pooled.append(self.final(x, adj, None).max(dim=1).values)
        h = torch.relu(self.lin1(torch.cat(pooled, dim=-1)))
        aux = {
            "pool/link": self.link_coeff * link,
            "pool/entropy": self.entropy_coeff * entropy,
        }
        return ModelOutput(self.lin2(h), aux, sizes)


def _diffpool_coeffs(params: dict) -> tuple[float, float]:
    """The loss weights from the diffpool pooler config; the settings that
    their DiffPool has no place for must stay at their defaults."""
    allowed = {"link_coeff", "entropy_coeff", "link_normalize", "temp"}
    unknown = set(params) - allowed
    if unknown:
        raise ValueError(f"ErricaDiffPool: unknown pooler keys {sorted(unknown)}")
    if params.get("link_normalize", False) or params.get("temp", 1.0) != 1.0:
        raise ValueError(
            "ErricaDiffPool uses PyG's dense_diff_pool as their code does: "
            "pooler.link_normalize must be false and pooler.temp 1.0"
        )
    return float(params.get("link_coeff", 1.0)), float(params.get("entropy_coeff", 1.0))
