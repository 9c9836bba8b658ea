"""k-MIS pooling (Bacciu et al. 2023): maximal k-independent sets, precomputable.

Paper: https://arxiv.org/abs/2208.03523

- SEL: a maximal k-independent set (no two set nodes within k hops, every node
  within k hops of one), greedy by a topology score (``degree`` or
  ``constant``, with the ``greedy`` / ``w-greedy`` heuristic); every node joins
  the best-ranked set node within k hops
  (:func:`poolbench.pooling.select.select_kmis`). K per graph is the set size;
  ``ratio`` is ignored.
- RED: ``reduce`` over each cluster: ``sum`` is ``S^T X`` (S one-hot
  ``[N, K]``), ``mean`` / ``max`` are offered too.
- CON: ``A' = S^T A S`` without self-loops (parallel edges summed).
- No auxiliary loss.

Deviations from tgp's KMISPooling: tgp's (and PyG's) default scorer is a
learned linear map of the features whose score also gates them; here the
score is the topology's alone (the paper's parameter-free pooler, so it is
precomputable and counted as parameter-free). tgp weights each node's
features by its score inside RED (``S`` holds the scores, so with the degree
scorer isolated nodes are zeroed); here ``S`` is one-hot, which keeps RED =
``S^T X``. Ties in the score fall to the node index (tgp uses an unstable
sort).
"""

from __future__ import annotations

from torch import Tensor

from poolbench.pooling.base import TopologyPooler
from poolbench.pooling.poolers.graclus import cluster_topology
from poolbench.pooling.registry import register
from poolbench.pooling.select import select_kmis

REDUCES = ("sum", "mean", "max")


@register("kmis")
class KMISPool(TopologyPooler):
    paper = "Bacciu et al., 2023, https://arxiv.org/abs/2208.03523"
    reference = (
        "tgp: selection equal; RED one-hot (documented) (test_ref_one_over_k.py)"
    )
    family = "one_over_k"
    # True for the default reduce "sum" only; mean and max are not S^T X.
    expressive = True

    def __init__(
        self,
        in_channels: int,
        ratio: float = 0.5,
        avg_nodes: float = 0.0,
        order_k: int = 1,
        scorer: str = "degree",
        score_heuristic: str | None = "greedy",
        reduce: str = "sum",
    ):
        super().__init__(in_channels, ratio, avg_nodes)
        if order_k < 1:
            raise ValueError(f"order_k must be >= 1, got {order_k}")
        if scorer not in ("degree", "constant"):
            raise ValueError(f"scorer must be degree or constant, got {scorer!r}")
        if score_heuristic not in (None, "greedy", "w-greedy"):
            raise ValueError(f"unknown score_heuristic {score_heuristic!r}")
        if reduce not in REDUCES:
            raise ValueError(f"reduce must be one of {REDUCES}, got {reduce!r}")
        self.order_k = order_k
        self.scorer = scorer
        self.score_heuristic = score_heuristic
        self.reduce = reduce

    def precompute(
        self, edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor
    ) -> dict[str, Tensor]:
        cluster, _ = select_kmis(
            edge_index,
            edge_weight,
            batch.numel(),
            self.order_k,
            self.scorer,
            self.score_heuristic,
        )
        return cluster_topology(cluster, edge_index, edge_weight, batch)

    def extra_repr(self) -> str:
        return f"order_k={self.order_k}, scorer={self.scorer}, reduce={self.reduce}"
