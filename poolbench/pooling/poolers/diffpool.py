"""DiffPool (Ying et al., NeurIPS 2018).

Paper: https://arxiv.org/abs/1806.08804

- SEL: ``S = softmax(MLP(X))`` ``[B, N, K]``, K = ceil(ratio * avg_nodes). The
  paper computes S with a GNN; like tgp's DiffPool we use an MLP, since the
  message passing before the pooler already mixes neighbourhoods.
- RED: ``X' = S^T X`` ``[B, K, F]``.
- CON: ``A' = D^{-1/2} (S^T A S - diag) D^{-1/2}`` ``[B, K, K]`` (tgp's default).
- Aux losses: ``link = ||A - S S^T||_F`` (divided by ``N_g^2`` when
  ``link_normalize``) and ``entropy`` = mean row entropy of S. The link loss
  is computed as ``sqrt(||A||^2 - 2 Tr(S^T A S) + ||S^T S||^2)``, so the
  ``[B, N, N]`` adjacency is never built.

Deviation from tgp: tgp's link loss is one Frobenius norm over the whole
padded batch and its entropy a mean over all nodes of the batch; here both are
per graph and then averaged over graphs, so a graph's loss does not depend on
its batch. For a single graph the values coincide.

Can cluster: the link loss ||A - S S^T|| rewards putting linked nodes in one cluster and
the entropy loss makes S near one-hot, so S trains to a partition without labels (DMoN's
paper uses DiffPool as a clustering baseline).
"""

from __future__ import annotations

from torch import Tensor

from poolbench.pooling.base import PaddedGraph, SoftClusterPooler
from poolbench.pooling.losses import entropy_from, link_loss_edges, node_entropy
from poolbench.pooling.registry import register


@register("diffpool")
class DiffPool(SoftClusterPooler):
    paper = "Ying et al., NeurIPS 2018, https://arxiv.org/abs/1806.08804"
    reference = "tgp: equal per graph with copied weights (test_ref_soft_clustering.py)"
    can_cluster = True
    # The link loss expands into ||A||^2 - 2 Tr(S^T A S) + ||S^T S||^2: no dense A.
    needs_dense_adj = False

    def __init__(
        self,
        in_channels: int,
        ratio: float = 0.5,
        avg_nodes: float = 0.0,
        link_coeff: float = 1.0,
        entropy_coeff: float = 1.0,
        link_normalize: bool = False,
        temp: float = 1.0,
    ):
        super().__init__(in_channels, ratio, avg_nodes, temp)
        self.link_coeff = link_coeff
        self.entropy_coeff = entropy_coeff
        self.link_normalize = link_normalize

    def aux_losses(self, g: PaddedGraph) -> dict[str, Tensor]:
        entropy = g.graph_sum(node_entropy(g.s_flat))
        return {
            "link": self.link_coeff
            * link_loss_edges(g.entries(), g.ss, g.mask, g.sas, self.link_normalize),
            "entropy": self.entropy_coeff * entropy_from(entropy, g.num_nodes),
        }
