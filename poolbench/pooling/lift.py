"""LIFT: pooled features back on the input nodes, from what a PoolOutput carries.

The fourth operation of the pooler contract (SRC + LIFT), what a Graph U-Net
calls at every level on the way up. It reads only the :class:`PoolOutput` of
the pooling call, so one function serves every pooler:

- dense assignment (``s`` ``[B, N, K]`` with ``info["mask"]``): ``X = S X'``;
- per-node mode coefficients (``info["theta"]`` ``[N, H]``, EigenPool): each
  node sums its cluster's ``H`` feature blocks weighted by its own
  coefficients, ``X = Θ X'`` in mode-major form;
- hard map (``info["cluster"]`` ``[N]``, -1 where dropped): ``X = X'[cluster]``,
  zeros on dropped nodes. This is one-over-K's ``S X'`` for a one-hot ``S``,
  the gUnpool of Graph U-Nets for score-based poolers (features scattered back
  into the kept positions), and the identity for ``none``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor
from torch_geometric.utils import to_dense_batch

if TYPE_CHECKING:  # pragma: no cover
    from poolbench.pooling.base import PoolOutput


def dense_lift(x_pooled: Tensor, s: Tensor, mask: Tensor, batch: Tensor) -> Tensor:
    """``S X'`` on the real nodes ``[N, F]``.

    Args:
        x_pooled: pooled features ``[K_total, F]``, graph by graph.
        s: assignment ``[B, N_max, K]``; graph ``b``'s pooled nodes are its
            first columns, in the order of ``x_pooled``.
        mask: real input nodes ``[B, N_max]``.
        batch: graph of each pooled node ``[K_total]``.
    """
    num_graphs, _, k = s.shape
    x_dense, _ = to_dense_batch(x_pooled, batch, max_num_nodes=k, batch_size=num_graphs)
    return (s.to(x_dense.dtype) @ x_dense)[mask]


def cluster_lift(x_pooled: Tensor, cluster: Tensor) -> Tensor:
    """``X'[cluster]`` ``[N, F]`` with zero rows where ``cluster == -1``."""
    lifted = x_pooled.new_zeros(cluster.numel(), x_pooled.size(1))
    keep = cluster >= 0
    return lifted.index_put((keep.nonzero().view(-1),), x_pooled[cluster[keep]])


def mode_lift(x_pooled: Tensor, cluster: Tensor, theta: Tensor) -> Tensor:
    """``Θ X'`` for per-node mode coefficients ``theta`` ``[N, H]``.

    ``x_pooled`` ``[K_total, H * F]`` holds each supernode's ``H`` blocks of
    ``F`` features (mode by mode); node ``i`` of cluster ``c`` gets
    ``sum_h theta[i, h] * x_pooled[c, h]``.
    """
    modes = theta.size(1)
    blocks = x_pooled.view(x_pooled.size(0), modes, -1)
    lifted = x_pooled.new_zeros(cluster.numel(), blocks.size(-1))
    keep = (cluster >= 0).nonzero().view(-1)
    mixed = (theta[keep].unsqueeze(-1).to(blocks.dtype) * blocks[cluster[keep]]).sum(1)
    return lifted.index_put((keep,), mixed)


def lift(x_pooled: Tensor, out: PoolOutput) -> Tensor:
    """Features ``[K_total, F]`` of the pooled nodes on the input nodes ``[N, F]``."""
    if x_pooled.size(0) != out.x.size(0):
        raise ValueError(
            f"lift needs one row per pooled node ({out.x.size(0)}), "
            f"got {x_pooled.size(0)}"
        )
    if out.s is not None:
        return dense_lift(x_pooled, out.s, out.info["mask"], out.batch)
    if "theta" in out.info:
        return mode_lift(x_pooled, out.info["cluster"], out.info["theta"])
    return cluster_lift(x_pooled, out.info["cluster"])
