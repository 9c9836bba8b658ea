"""SEL building blocks shared by the soft-clustering poolers."""

from __future__ import annotations

import pytest
import torch

from poolbench.pooling.select import DenseSelect, softmax_last


@pytest.mark.parametrize("k", [1, 2, 5, 9, 15, 16, 20])
@pytest.mark.parametrize("shape", [(37,), (3, 11)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_softmax_last_equals_torch_softmax_in_value_and_gradient(k, shape, dtype):
    g = torch.Generator().manual_seed(k)
    logits = (3 * torch.randn(*shape, k, generator=g)).to(dtype)
    if k > 2:  # a masked column, as LaPool's absent leaders
        logits[..., 1] = float("-inf")
    upstream = torch.randn(*shape, k, generator=g).to(dtype)
    a = logits.clone().requires_grad_()
    b = logits.clone().requires_grad_()
    want, got = torch.softmax(a, dim=-1), softmax_last(b)
    assert got.shape == want.shape and got.dtype == dtype
    torch.testing.assert_close(got, want)
    (want_grad,) = torch.autograd.grad(want, a, upstream)
    (got_grad,) = torch.autograd.grad(got, b, upstream)
    torch.testing.assert_close(got_grad, want_grad)


def test_dense_select_temperature_scales_softmax_and_sigmoid_not_relu():
    torch.manual_seed(0)
    x = torch.randn(6, 4)
    acts = [("softmax", lambda z: torch.softmax(z, -1)), ("sigmoid", torch.sigmoid)]
    for act, fn in acts:
        sel = DenseSelect(4, 3, temp=0.5, act=act)
        torch.testing.assert_close(sel(x), fn(sel.mlp(x) / 0.5))
    relu = DenseSelect(4, 3, temp=0.5, act="relu")
    torch.testing.assert_close(relu(x), torch.relu(relu.mlp(x)))
    # rows of the padding get no cluster
    mask = torch.tensor([True, True, False, True, False, True])
    assert (DenseSelect(4, 3)(x, mask)[~mask] == 0).all()
