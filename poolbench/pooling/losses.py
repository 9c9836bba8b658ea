"""Auxiliary losses of the soft-clustering poolers, on padded dense batches.

Every loss here is a mean over the graphs of the batch, so its value does not
depend on how graphs are grouped into batches (the DMoN trap of PyG 8284).
Shapes: ``adj`` ``[B, N, N]``, ``s`` ``[B, N, K]``, ``mask`` ``[B, N]``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from poolbench.pooling.connect import EPS


def _trace(m: Tensor) -> Tensor:
    return m.diagonal(dim1=-2, dim2=-1).sum(-1)


def mincut_loss(adj: Tensor, s: Tensor) -> Tensor:
    """``-Tr(S^T A S) / Tr(S^T D S)`` (Bianchi et al. 2020); 0 for edgeless graphs."""
    num = _trace(s.transpose(1, 2) @ adj @ s)
    deg = adj.sum(-1)
    den = _trace(s.transpose(1, 2) @ (deg.unsqueeze(-1) * s))
    return (-num / (den + EPS)).mean()


def orthogonality_loss(s: Tensor) -> Tensor:
    """``|| S^T S / ||S^T S||_F - I_K / sqrt(K) ||_F`` (Bianchi et al. 2020)."""
    k = s.size(-1)
    ss = s.transpose(1, 2) @ s
    eye = torch.eye(k, device=s.device, dtype=s.dtype) / k**0.5
    ss = ss / (torch.linalg.matrix_norm(ss, keepdim=True) + EPS)
    return torch.linalg.matrix_norm(ss - eye).mean()
