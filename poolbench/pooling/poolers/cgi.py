"""Coarsened Graph Infomax pooling, CGIPool (Pang, Zhao & Li, SIGIR 2021).

Paper: https://arxiv.org/abs/2105.01275; authors' code:
github.com/PangYunsheng8/CGIPool.

- SEL: two score networks read the graph, ``s_+ = GraphConv_+(lrelu(GraphConv(X)))``
  and ``s_- = GraphConv_-(lrelu(GraphConv(X)))`` ``[N]`` (leaky ReLU slope 0.2);
  the node score is ``s = s_+ - s_-``; keep the ``ceil(ratio * N)`` top-scored
  nodes of each graph, ``idx``.
- RED: ``X' = T[idx] * tanh(s[idx])`` with ``T = lrelu(GraphConv(X))``
  ``[K_total, F]``.
- CON: ``A' = A[idx, idx]`` (edge weights kept).
- Aux loss ``mi`` (mutual information, Deep-Graph-Infomax style): a
  discriminator ``D([r, g]) = sigmoid(MLP)`` must tell the positive coarsened
  summary ``r_+ = mean_i T_i tanh(s_+i)`` from the negative one
  ``r_- = mean_i T_i tanh(s_-i)``, both paired with the graph summary
  ``g = mean_i T_i``: ``mi = (BCE(D([r_+, g]), 1) + BCE(D([r_-, g]), 0)) / 2``,
  averaged over graphs, times ``loss_coeff``.

Choices the paper leaves open follow the authors' code: the summaries are
means over all nodes (their ``topk(..., 1)`` keeps every node), the
discriminator is ``Linear(2F, F)``-leaky ReLU(0.2)-``Linear(F, 1)``, the
GraphConv layers read no edge weights, and the loss weight is 0.001 (their
training loss is ``cls + 0.001 * mean over layers of mi``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GraphConv, global_mean_pool

from poolbench.pooling.base import Pooler, PoolOutput
from poolbench.pooling.connect import cluster_connect
from poolbench.pooling.registry import register
from poolbench.pooling.select import keep_top


class Discriminator(nn.Module):
    """``sigmoid(Linear(lrelu(Linear([r, g]))))`` ``[B]``."""

    def __init__(self, channels: int):
        super().__init__()
        self.fc1 = nn.Linear(2 * channels, channels)
        self.fc2 = nn.Linear(channels, 1)

    def forward(self, pair: Tensor) -> Tensor:
        return torch.sigmoid(self.fc2(F.leaky_relu(self.fc1(pair), 0.2))).view(-1)


@register("cgi")
class CGIPool(Pooler):
    paper = "Pang, Zhao & Li, SIGIR 2021, https://arxiv.org/abs/2105.01275"
    reference = (
        "authors' code (no tgp/PyG twin); hand-checked loss and selection (test_gpb.py)"
    )
    family = "score"
    trainable = True
    has_aux_loss = True

    def __init__(
        self,
        in_channels: int,
        ratio: float = 0.5,
        avg_nodes: float = 0.0,
        loss_coeff: float = 0.001,
    ):
        super().__init__(in_channels, ratio, avg_nodes)
        self.loss_coeff = loss_coeff
        self.transform = GraphConv(in_channels, in_channels)
        self.pos_conv = GraphConv(in_channels, in_channels)
        self.neg_conv = GraphConv(in_channels, in_channels)
        self.pos_score = GraphConv(in_channels, 1)
        self.neg_score = GraphConv(in_channels, 1)
        self.discriminator = Discriminator(in_channels)

    def forward(
        self, x: Tensor, edge_index: Tensor, edge_weight: Tensor | None, batch: Tensor
    ) -> PoolOutput:
        n = x.size(0)
        num_graphs = int(batch.max()) + 1 if n else 0
        t = F.leaky_relu(self.transform(x, edge_index), 0.2)
        h_pos = F.leaky_relu(self.pos_conv(x, edge_index), 0.2)
        h_neg = F.leaky_relu(self.neg_conv(x, edge_index), 0.2)
        s_pos = self.pos_score(h_pos, edge_index).view(-1)
        s_neg = self.neg_score(h_neg, edge_index).view(-1)

        def summary(v: Tensor) -> Tensor:
            return global_mean_pool(v, batch, size=num_graphs)

        g = summary(t)
        d_pos = self.discriminator(
            torch.cat([summary(t * torch.tanh(s_pos)[:, None]), g], 1)
        )
        d_neg = self.discriminator(
            torch.cat([summary(t * torch.tanh(s_neg)[:, None]), g], 1)
        )
        mi = (
            F.binary_cross_entropy(d_pos, torch.ones_like(d_pos))
            + F.binary_cross_entropy(d_neg, torch.zeros_like(d_neg))
        ) / 2

        score = s_pos - s_neg
        perm = keep_top(score, self.ratio, batch)
        cluster = torch.full((n,), -1, dtype=torch.long, device=x.device)
        cluster[perm] = torch.arange(perm.numel(), device=x.device)
        ei, ew = cluster_connect(
            edge_index, edge_weight, cluster, perm.numel(), remove_loops=False
        )
        if edge_weight is None:
            ew = None
        gate = torch.tanh(score[perm])
        out_x = t[perm] * gate.unsqueeze(-1)
        info = {"cluster": cluster, "perm": perm, "score": gate}
        aux = {"mi": self.loss_coeff * mi}
        return PoolOutput(out_x, ei, ew, batch[perm], aux_loss=aux, info=info)
