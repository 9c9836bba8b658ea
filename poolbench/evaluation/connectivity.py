"""Connected components before and after pooling: does a pooler cut graphs apart?

Score-based poolers keep ``A[idx, idx]`` and can disconnect the pooled graph
(TopK is the known case), which starves the MP layers after them.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from torch import Tensor


def components_per_graph(edge_index: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
    """Number of connected components of each graph of a batch ``[B]``.

    Isolated nodes count as components of their own; a graph pooled to no node
    has zero.
    """
    n = batch.numel()
    if n == 0:
        return torch.zeros(num_graphs, dtype=torch.long)
    ei = edge_index.detach().cpu().numpy()
    adj = coo_matrix((np.ones(ei.shape[1]), (ei[0], ei[1])), shape=(n, n))
    _, labels = connected_components(adj, directed=False)
    graph_of_label = np.zeros(labels.max() + 1, dtype=np.int64)
    graph_of_label[labels] = batch.detach().cpu().numpy()
    counts = np.bincount(graph_of_label, minlength=num_graphs)
    return torch.as_tensor(counts)


def single_graph_components(edge_index: Tensor, num_nodes: int, out) -> dict:
    """Component counts of one graph and of its pooled version, as row fields."""
    before = components_per_graph(
        edge_index, torch.zeros(num_nodes, dtype=torch.long), 1
    )
    after = components_per_graph(out.edge_index, out.batch, 1)
    return {"components_in": float(before[0]), "components_pooled": float(after[0])}
