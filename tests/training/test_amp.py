"""``trainer.amp`` (bf16 autocast, CUDA only): every pooler's model takes a
training step and an evaluation pass under autocast.

CPU autocast stands in for CUDA's here (no GPU in CI): its op lists differ,
but a dtype clash (a bf16 tensor meeting a float32 one in ``index_add_``, an
op with no bf16 kernel) fails the same way. 15 of 30 poolers failed every
run with trainer.amp=true before this was checked.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from poolbench.pooling.registry import available
from poolbench.tasks.graph import GraphRegression, forward_graphs
from tests.training.test_selection import CPU, make_exp


@pytest.mark.parametrize("name", available())
def test_a_training_step_under_bf16_autocast(tmp_path, name):
    exp = make_exp(tmp_path, [f"pooler={name}", "trainer.batch_size=8"])
    split = exp.splits()[0]
    torch.manual_seed(0)
    model = exp.make_model(CPU)
    task = exp.task.for_split(split)
    batch = next(iter(exp.loader(split.train, shuffle=False, generator=None)))
    model.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = task.loss(forward_graphs(model, batch), batch)
    loss.backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is None or torch.isfinite(g).all() for g in grads)
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
    model.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = forward_graphs(model, batch)
    assert torch.isfinite(out.logits).all()


def test_regression_targets_are_not_rounded_to_bf16():
    """Under autocast the predictions are bf16; the standardised targets and
    the squared error stay float32 (bf16 keeps about 3 significant digits)."""
    targets = torch.tensor([[1.2345678], [2.3456789], [3.4567891]])
    task = GraphRegression(targets, torch.tensor([0.5]), torch.tensor([2.0]))
    pred = torch.tensor([[0.25], [0.75], [1.5]], dtype=torch.bfloat16)
    out = SimpleNamespace(logits=pred, aux_loss={})
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = task.loss(out, SimpleNamespace(y=targets))
    want = ((pred.float() - (targets - 0.5) / 2.0) ** 2).mean()
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, want, rtol=1e-6, atol=0)
