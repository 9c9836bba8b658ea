"""BN-Pool: Bayesian nonparametric graph pooling (Castellana & Bianchi, 2025).

Paper: https://arxiv.org/abs/2501.09821

- SEL: a truncated stick-breaking (Dirichlet-process) assignment with at most
  K = ceil(ratio * avg_nodes) clusters: an MLP gives each node Beta posteriors
  ``q(v_ik) = Beta(alpha_ik, beta_ik)`` for ``k < K`` (``softplus``, clamped to
  ``[1e-3, 1e3]``), and ``S_ik = v_ik prod_{j<k} (1 - v_ij)``, the last column
  taking what is left, so rows sum to 1 ``[B, N, K]``. Training draws ``v``
  with the reparameterisation trick; evaluation uses the posterior means
  ``alpha / (alpha + beta)`` (deterministic, node-order invariant
  predictions; tgp draws in both modes). Clusters the data does not need
  receive little mass: the number of clusters adapts.
- RED: ``X' = S^T X`` ``[B, K, F]``.
- CON: ``A' = D^{-1/2} (S^T A S - diag) D^{-1/2}`` ``[B, K, K]``.
- Aux losses, each divided by ``N_g^2`` per graph and averaged over graphs:
  ``quality``, the class-balanced binary cross-entropy between ``A`` and the
  logits ``S K S^T`` (``K`` ``[K, K]`` a learned block matrix), over each
  graph's own node pairs (not the padded batch's); ``kl``,
  ``eta * KL(q(v) || Beta(1, alpha_DP))`` summed over nodes and sticks;
  ``K_prior``, ``||K - K_mu||^2 / (2 K_var)`` with ``K_mu`` ``+mu`` on the
  diagonal and ``-mu`` off it.

Matches tgp's BNPool with copied weights and the same random draws in training
(tested), except ``K_prior``: tgp divides it once more by the batch size, so
it shrinks with larger batches; here it does not depend on the batch. The
Beta draws are made for the real nodes only (tgp draws for the padded rows of
a batch too), so on a batch of several graphs the same seed gives other draws
than tgp's; with the draws fixed the two are equal (tested), and on one graph
the draws are the same.

Can cluster: its losses are the evidence lower bound of a stochastic block
model with a Dirichlet-process prior on the clusters, an unsupervised
clustering objective with no labels involved (the paper's clustering use).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Beta, kl_divergence

from poolbench.pooling.base import PaddedGraph, SoftClusterPooler
from poolbench.pooling.dense import EdgeEntries, SizeGroups
from poolbench.pooling.registry import register


def stick_breaking(v: Tensor) -> Tensor:
    """``[..., K-1]`` stick fractions in (0, 1) -> ``[..., K]`` shares (log space)."""
    log = v.new_zeros(*v.shape[:-1], v.size(-1) + 1)
    log[..., :-1] = torch.log(v)
    log[..., 1:] = log[..., 1:] + torch.cumsum(torch.log(1 - v), dim=-1)
    return torch.exp(log)


def balanced_bce(
    s_k: Tensor, s: Tensor, entries: EdgeEntries, groups: SizeGroups
) -> Tensor:
    """Per graph ``[B]``: the binary cross-entropy of ``A`` under the logits
    ``(S K)_i . S_j``, summed over the graph's own ordered node pairs, the
    pairs with ``A_ij != 0`` weighted by ``(N^2 - E) / E`` so links and
    non-links count alike (``s_k`` = ``S K`` and ``s`` = ``S`` ``[N, K]``).

    ``BCE(l, y) = softplus(l) - y l``, so the sum is ``softplus`` over every
    pair, labels unneeded (one ``[n, n]`` product per size group, no per-pair
    gather), plus ``(w - 1) softplus(l) - w y l`` on the stored entries of A.
    """
    all_pairs = groups.pair_sum(s_k, s, F.softplus)
    rows = s_k.index_select(0, entries.row) * s.index_select(0, entries.col)
    logits = rows.sum(-1)
    labels = entries.weight.to(logits.dtype)
    edge = labels != 0  # parallel edges summing to 0 leave a non-link
    b = groups.counts.numel()
    n_edges = logits.new_zeros(b).index_add(0, entries.graph, edge.to(logits.dtype))
    n = groups.counts.to(logits.dtype)
    weight = ((n**2 - n_edges).clamp_min(1) / n_edges.clamp_min(1))[entries.graph]
    links = (weight - 1) * F.softplus(logits) - weight * labels * logits
    # an entry whose parallel edges sum to 0 is a non-link: its softplus is
    # already counted, and -y l (value 0) keeps the label's gradient, -l
    links = torch.where(edge, links, -labels * logits)
    return all_pairs + logits.new_zeros(b).index_add(0, entries.graph, links)


@register("bnpool")
class BNPool(SoftClusterPooler):
    paper = "Castellana & Bianchi, 2025, https://arxiv.org/abs/2501.09821"
    reference = (
        "tgp: equal with copied weights and fixed draws; K_prior without tgp's "
        "extra 1/B (test_ref_eigenpool_bnpool.py)"
    )
    can_cluster = True
    # A S and the degrees come from the edges; the quality loss reads every
    # node pair of a graph (N^2 by its definition) as one product per size
    # group, and the labels only on the edges.
    needs_dense_adj = False
    # per padded node pair: the logit and its softplus (x 3 in the estimate;
    # measured peak: 3.8 floats per pair, 8 graphs of 2,000 nodes)
    pair_floats = (0, 2)

    def __init__(
        self,
        in_channels: int,
        ratio: float = 0.5,
        avg_nodes: float = 0.0,
        alpha_dp: float = 1.0,
        k_var: float = 1.0,
        k_mu: float = 10.0,
        k_init: float = 1.0,
        eta: float = 1.0,
        train_k: bool = True,
    ):
        super().__init__(in_channels, ratio, avg_nodes, temp=None)
        for name, value in (("alpha_dp", alpha_dp), ("k_var", k_var), ("eta", eta)):
            if value <= 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        k = self.num_clusters
        self.eta, self.train_k = eta, train_k
        self.mlp = nn.Linear(in_channels, 2 * (k - 1))
        self.register_buffer("prior_alpha", torch.ones(k - 1))
        self.register_buffer("prior_beta", torch.full((k - 1,), float(alpha_dp)))
        sign = 2 * torch.eye(k) - 1
        self.register_buffer("k_mu", k_mu * sign)
        self.register_buffer("k_var", torch.tensor(float(k_var)))
        self.block = nn.Parameter(k_init * sign, requires_grad=train_k)
        self._posterior: tuple[Tensor, Tensor] | None = None

    def assign_rows(self, x: Tensor) -> Tensor:
        """S of the real nodes ``[N, K]``: draws only for them (Beta draws
        are the costly part of SEL, and a padded batch has ~12x more rows)."""
        if self.num_clusters == 1:  # no stick to break: one cluster takes all
            return x.new_ones(x.size(0), 1)
        out = torch.clamp(F.softplus(self.mlp(x)), min=1e-3, max=1e3)
        alpha, beta = out.split(self.num_clusters - 1, dim=-1)
        # Handed to aux_losses, which runs next in the same forward.
        self._posterior = (alpha, beta)
        if self.training:
            # float32: no bf16 Dirichlet kernel (trainer.amp). No argument
            # checks: the clamp above keeps both in range, and each check is
            # a host sync on a GPU (9 per step)
            v = Beta(alpha.float(), beta.float(), validate_args=False).rsample()
        else:
            v = alpha / (alpha + beta)
        return stick_breaking(v)

    def aux_losses(self, g: PaddedGraph) -> dict[str, Tensor]:
        n2 = g.mask.sum(-1).to(g.s.dtype) ** 2
        s_k = g.s_flat @ self.block
        quality = (balanced_bce(s_k, g.s_flat, g.entries(), g.groups) / n2).mean()
        kl = g.s.new_zeros(())
        if self._posterior is not None:
            alpha, beta = self._posterior
            self._posterior = None
            # No argument checks, as for the draw: a diverged run's NaN must
            # reach the loss (a `nan` row), not a ValueError dumping a tensor
            prior = Beta(self.prior_alpha, self.prior_beta, validate_args=False)
            posterior = Beta(alpha, beta, validate_args=False)
            node_kl = kl_divergence(posterior, prior).sum(-1)  # [N]
            per_graph = node_kl.new_zeros(n2.numel()).index_add(0, g.batch, node_kl)
            kl = (per_graph / n2).mean()
        k_prior = g.s.new_zeros(())
        if self.train_k:
            sq = 0.5 * ((self.block - self.k_mu) ** 2).sum() / self.k_var
            k_prior = (sq / n2).mean()
        return {"quality": quality, "kl": self.eta * kl, "K_prior": k_prior}
