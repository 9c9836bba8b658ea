"""Small hand-built graphs and batches shared by the pooling tests."""

from __future__ import annotations

import torch
from torch_geometric.data import Batch, Data
from torch_geometric.utils import to_undirected


def path_graph(n: int, features: int = 4, seed: int = 0) -> Data:
    g = torch.Generator().manual_seed(seed)
    src = torch.arange(n - 1)
    edge_index = to_undirected(torch.stack([src, src + 1]), num_nodes=n)
    return Data(x=torch.randn(n, features, generator=g), edge_index=edge_index)


def random_graph(n: int, p: float = 0.3, features: int = 4, seed: int = 0) -> Data:
    g = torch.Generator().manual_seed(seed)
    upper = torch.triu(torch.rand(n, n, generator=g) < p, diagonal=1)
    edge_index = to_undirected(upper.nonzero().t(), num_nodes=n)
    return Data(x=torch.randn(n, features, generator=g), edge_index=edge_index)


def single_node(features: int = 4) -> Data:
    return Data(
        x=torch.randn(1, features), edge_index=torch.empty(2, 0, dtype=torch.long)
    )


def no_edges(n: int = 5, features: int = 4) -> Data:
    return Data(
        x=torch.randn(n, features), edge_index=torch.empty(2, 0, dtype=torch.long)
    )


def disconnected(features: int = 4) -> Data:
    """Two triangles with no edge between them."""
    tri = torch.tensor([[0, 1, 1, 2, 2, 0], [1, 0, 2, 1, 0, 2]])
    edge_index = torch.cat([tri, tri + 3], dim=1)
    return Data(x=torch.randn(6, features), edge_index=edge_index)


def with_isolated(features: int = 4) -> Data:
    """A 4-node path plus two isolated nodes."""
    path = path_graph(4, features)
    return Data(x=torch.randn(6, features), edge_index=path.edge_index)


def with_weights(data: Data, seed: int = 0) -> Data:
    """Symmetric, distinct positive edge weights."""
    g = torch.Generator().manual_seed(seed)
    n = data.num_nodes
    w = torch.rand(n, n, generator=g) + 0.1
    w = (w + w.t()) / 2
    out = data.clone()
    out.edge_weight = w[data.edge_index[0], data.edge_index[1]]
    return out


EDGE_CASES = {
    "single_node": lambda: Batch.from_data_list([single_node()]),
    "no_edges": lambda: Batch.from_data_list([no_edges()]),
    "disconnected": lambda: Batch.from_data_list([disconnected()]),
    "isolated_nodes": lambda: Batch.from_data_list([with_isolated()]),
    "mixed_batch": lambda: Batch.from_data_list(
        [random_graph(9, seed=1), single_node(), path_graph(5), no_edges(3)]
    ),
    "weighted_batch": lambda: Batch.from_data_list(
        [with_weights(random_graph(8, seed=2)), with_weights(path_graph(6), seed=3)]
    ),
}
