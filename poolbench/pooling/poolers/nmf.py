"""NMF pooling (Bacciu & Di Sotto, 2019): clusters from a factorisation of A.

Paper: https://arxiv.org/abs/1909.03287

- SEL: ``A_g ~= W H`` with ``W`` ``[N, K]``, ``H`` ``[K, N]`` non-negative, per
  graph; ``S = softmax(H^T)`` ``[B, N, K]``, K = ceil(ratio * avg_nodes). A
  graph with ``N_g <= K`` nodes keeps one cluster per node (``S = [I, 0]``).
- RED: ``X' = S^T X`` ``[B, K, F]``.
- CON: ``A' = D^{-1/2} (S^T A S - diag) D^{-1/2}`` ``[B, K, K]``.
- Aux losses: none. Not trainable: S depends on A only.

tgp calls scikit-learn (random init, up to 5000 coordinate steps) one graph at
a time. Here the whole padded batch is factorised in torch at once, with a
deterministic NNDSVDa start (Boutsidis & Gallopoulos 2008) and a fixed number
of Lee-Seung multiplicative updates, in float64 so the result does not drift
with node order. The start comes from the eigendecomposition of the (symmetric)
adjacency, which fixes the singular vectors that a plain SVD leaves free on the
``lambda, -lambda`` pairs of bipartite graphs (they made S depend on the batch's
padding), and every sign decision of the start has a tolerance. Where A has a
truly repeated eigenvalue (symmetric shapes) the eigenvectors are not unique
and S may still depend on node order. Each graph is factorised alone, at its
own size (a padded batch changed S on 3 of MUTAG's and 12 of PROTEINS's first
64 graphs), so S never depends on the batch and the precomputed path gives the
same numbers as the on-the-fly one.

Precomputed (the default in training, ``trainer.precompute``): S and the pooled
graph are computed once per graph and cached with the dataset (see
:mod:`poolbench.pooling.precompute`); each step then costs ``S^T X`` only.

Cannot cluster (``can_cluster`` false): S is a fixed factorisation of A with
nothing to train, so the community task has no objective to optimise.
"""

from __future__ import annotations

import torch
from torch import Tensor

from poolbench.pooling.base import PoolOutput, SoftClusterPooler
from poolbench.pooling.connect import dense_connect
from poolbench.pooling.dense import from_padded, padded_features, to_padded
from poolbench.pooling.reduce import dense_reduce
from poolbench.pooling.registry import register


def _top_singular(a: Tensor, k: int) -> tuple[Tensor, Tensor, Tensor]:
    """Top-k singular triplets ``U [B, N, k]``, ``V [B, N, k]``, ``sigma [B, k]``.

    For a symmetric ``a`` they come from its eigendecomposition, ordered by
    ``|lambda|`` and then by sign: ``u = v``, ``v' = sign(lambda) v``. A plain
    SVD pairs ``lambda`` and ``-lambda`` into one repeated singular value whose
    vectors are any rotation of the two eigenvectors; bipartite graphs (most
    molecules) have such pairs everywhere, and the rotation LAPACK picks moves
    with the padding, so S changed with the batch a graph landed in.
    """
    if torch.equal(a, a.transpose(1, 2)):
        lam, vec = torch.linalg.eigh(a)
        # Descending |lambda|, positive before negative among equals.
        order = torch.argsort(-lam, dim=-1, stable=True)
        # |lambda| to 8 digits: the two halves of a pair differ in the last bits.
        mag = (lam.gather(-1, order).abs() * 1e8).round()
        order = order.gather(-1, torch.argsort(-mag, dim=-1, stable=True))
        order = order[:, :k]
        lam = lam.gather(-1, order)
        u = vec.gather(-1, order.unsqueeze(1).expand(-1, vec.size(1), -1))
        return u, u * torch.sign(lam).unsqueeze(1), lam.abs()
    u, sv, vh = torch.linalg.svd(a)
    return u[..., :k], vh[:, :k, :].transpose(1, 2), sv[:, :k]


def _nndsvda(a: Tensor, mask: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Non-negative start ``W``, ``H^T`` ``[B, N, k]`` from the top-k SVD of ``a``."""
    x, y, sv = _top_singular(a, k)
    xp, xn = x.clamp_min(0), (-x).clamp_min(0)
    yp, yn = y.clamp_min(0), (-y).clamp_min(0)
    norm = torch.linalg.vector_norm
    mp = norm(xp, dim=1) * norm(yp, dim=1)
    mn = norm(xn, dim=1) * norm(yn, dim=1)

    # The sign of a singular pair is arbitrary; keeping the heavier half of the
    # pair makes the start independent of it. For a negative eigenvalue of a
    # symmetric A (v = -u) both halves weigh the same: W then takes the larger
    # half of u, which again does not depend on the sign.
    # Every comparison gets a tolerance, so float noise (which moves with the
    # padding) cannot flip it; exact ties fall to the larger largest entry,
    # which does not depend on the sign either.
    def heavier(p: Tensor, q: Tensor, then: Tensor) -> Tensor:
        tie = (p - q).abs() <= 1e-9 * (p + q)
        return torch.where(tie, then, p > q)

    by_max = heavier(xp.amax(1), xn.amax(1), torch.ones_like(mp, dtype=torch.bool))
    pos = heavier(mp, mn, heavier(norm(xp, dim=1), norm(xn, dim=1), by_max))
    pos = pos.unsqueeze(1)
    xs, ys = torch.where(pos, xp, xn), torch.where(pos, yp, yn)
    sigma = torch.where(pos.squeeze(1), mp, mn)
    lam = (sv * sigma).sqrt().unsqueeze(1)
    tiny = torch.finfo(a.dtype).eps
    w = lam * xs / (norm(xs, dim=1, keepdim=True) + tiny)
    ht = lam * ys / (norm(ys, dim=1, keepdim=True) + tiny)
    # Zeros never move under multiplicative updates: fill them with the mean of A.
    n = mask.sum(-1).to(a.dtype)
    avg = (a.sum((-1, -2)) / n.pow(2)).view(-1, 1, 1)
    m = mask.unsqueeze(-1).to(a.dtype)
    w = torch.where(w < 1e-6, avg, w) * m
    ht = torch.where(ht < 1e-6, avg, ht) * m
    return w, ht


def nmf_factors(
    adj: Tensor, mask: Tensor, k: int, iterations: int
) -> tuple[Tensor, Tensor]:
    """``W``, ``H^T`` ``[B, N, k]`` (float64) with ``A ~= W H`` for each graph."""
    a = adj.detach().to(torch.float64).clamp_min(0)
    w, ht = _nndsvda(a, mask, k)
    tiny = torch.finfo(a.dtype).eps
    for _ in range(iterations):
        ht = ht * (a.transpose(1, 2) @ w) / (ht @ (w.transpose(1, 2) @ w) + tiny)
        w = w * (a @ ht) / (w @ (ht.transpose(1, 2) @ ht) + tiny)
    return w, ht


def nmf_assignment(adj: Tensor, mask: Tensor, k: int, iterations: int) -> Tensor:
    """Soft assignment ``[B, N, k]`` from an NMF of each graph's adjacency."""
    num_graphs, n_max, _ = adj.shape
    n = mask.sum(-1)
    eye = torch.eye(n_max, k, device=adj.device, dtype=adj.dtype)
    s = eye.expand(num_graphs, -1, -1) * mask.unsqueeze(-1).to(adj.dtype)
    if n_max <= k:
        return s
    _, ht = nmf_factors(adj, mask, k, iterations)
    s_nmf = torch.softmax(ht, dim=-1).to(adj.dtype) * mask.unsqueeze(-1)
    small = (n <= k).view(-1, 1, 1)
    return torch.where(small, s, s_nmf)


@register("nmf")
class NMFPool(SoftClusterPooler):
    paper = "Bacciu & Di Sotto, 2019, https://arxiv.org/abs/1909.03287"
    reference = (
        "tgp: structure and RED/CON equal; factorisation as good as scikit-learn's "
        "(test_ref_soft_clustering.py)"
    )
    trainable = False
    has_aux_loss = False
    # S, and so CON, is a function of the graph alone: precompute() gives both
    # once per graph and forward(..., topology=...) is then RED only.
    precomputable = True

    def __init__(
        self,
        in_channels: int,
        ratio: float = 0.5,
        avg_nodes: float = 0.0,
        iterations: int = 200,
    ):
        super().__init__(in_channels, ratio, avg_nodes, temp=None)
        if iterations < 0:
            raise ValueError(f"iterations must be >= 0, got {iterations}")
        self.iterations = iterations

    def assign(self, x: Tensor, adj: Tensor, mask: Tensor) -> Tensor:
        # One graph at a time, each at its own size: factorising the padded
        # batch moves S with the padding wherever A has repeated eigenvalues,
        # and the precomputed S (one graph alone) must be the same numbers.
        k = self.num_clusters
        s = x.new_zeros(*mask.shape, k)
        with torch.no_grad():
            for g, n in enumerate(mask.sum(1).tolist()):
                one = nmf_assignment(
                    adj[g : g + 1, :n, :n], mask[g : g + 1, :n], k, self.iterations
                )
                s[g, :n] = one[0].to(x.dtype)
        return s

    def precompute(
        self, edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor
    ) -> dict[str, Tensor]:
        """S ``[N, K]`` (rows of the real nodes) and the pooled graph of a batch."""
        ones = torch.ones(batch.numel(), 1, device=batch.device)
        _, adj, mask = to_padded(ones, edge_index, edge_weight, batch)
        s = nmf_assignment(adj, mask, self.num_clusters, self.iterations).float()
        adj_pool = dense_connect(adj, s, remove_loops=True, degree_norm=True)
        _, ei, ew, pooled_batch = from_padded(s.new_zeros(*s.shape[::2], 1), adj_pool)
        return {
            "s": s[mask],
            "edge_index": ei,
            "edge_weight": ew,
            "batch": pooled_batch,
        }

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None,
        batch: Tensor,
        topology: dict[str, Tensor] | None = None,
    ) -> PoolOutput:
        if topology is None:
            return super().forward(x, edge_index, edge_weight, batch)
        x_dense, mask = padded_features(x, batch)
        s = x.new_zeros(*mask.shape, self.num_clusters)
        s[mask] = topology["s"].to(x.dtype)
        x_pool = dense_reduce(x_dense, s).reshape(-1, x.size(1))
        return PoolOutput(
            x_pool,
            topology["edge_index"],
            topology["edge_weight"],
            topology["batch"],
            s=s,
            info={"mask": mask},
        )
