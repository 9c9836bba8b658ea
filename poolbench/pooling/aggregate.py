"""Sums over the edges of a graph: the message-passing primitive shared by the
model's layers and the poolers' own score networks."""

from __future__ import annotations

from torch import Tensor


def dense_aggregate(x: Tensor, dense_adj: Tensor) -> Tensor:
    """``sum_j w_ji x_j`` for every node, from the block form ``[B, K, K]``.

    ``x`` ``[B * K, F]`` lists the K nodes of each graph in turn, as
    :func:`poolbench.pooling.dense.from_padded` lays them out; entry
    ``[b, j, i]`` is the weight of edge ``j -> i`` (PyG's source-to-target flow).
    """
    b, k, _ = dense_adj.shape
    return (dense_adj.transpose(1, 2) @ x.view(b, k, -1)).reshape(b * k, -1)


def edge_aggregate(x: Tensor, edge_index: Tensor, edge_weight: Tensor | None):
    """``sum_j w_ji x_j`` over the edges ``j -> i`` (PyG's source-to-target flow).

    What ``MessagePassing.propagate`` with ``aggr="add"`` computes, bit for bit
    on the CPU, without its per-call Python machinery (a fifth of a small
    layer's time).
    """
    msg = x.index_select(0, edge_index[0])
    if edge_weight is not None:
        msg = msg * edge_weight.view(-1, 1)
    # msg's dtype, not x's: under bf16 autocast x is bf16 after a layer but
    # the weights stay float32, and index_add_ refuses mixed dtypes
    return msg.new_zeros(x.shape[0], msg.shape[1]).index_add_(0, edge_index[1], msg)
