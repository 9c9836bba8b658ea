"""SEL: how poolers build the assignment S from features or topology."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class DenseSelect(nn.Module):
    """Soft assignment ``S = softmax(MLP(X) / temp)`` of every node to K clusters.

    Args:
        in_channels: node feature size F.
        k: number of clusters K.
        hidden: hidden sizes of the MLP; empty means one linear layer.
        temp: softmax temperature.

    Shapes: ``x`` ``[B, N, F]`` -> ``S`` ``[B, N, K]`` (rows sum to 1).
    """

    def __init__(
        self,
        in_channels: int,
        k: int,
        hidden: tuple[int, ...] = (),
        temp: float = 1.0,
        act: str = "softmax",
    ):
        super().__init__()
        layers: list[nn.Module] = []
        size = in_channels
        for h in hidden:
            layers += [nn.Linear(size, h), nn.ReLU()]
            size = h
        layers.append(nn.Linear(size, k))
        self.mlp = nn.Sequential(*layers)
        self.temp = temp
        self.act = act

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        logits = self.mlp(x)
        if self.act == "softmax":
            s = torch.softmax(logits / self.temp, dim=-1)
        elif self.act == "sigmoid":
            s = torch.sigmoid(logits / self.temp)
        elif self.act == "relu":
            s = torch.relu(logits)
        else:
            raise ValueError(f"unknown assignment activation {self.act!r}")
        if mask is not None:
            # Padded rows must not belong to any cluster.
            s = s * mask.unsqueeze(-1).to(s.dtype)
        return s
