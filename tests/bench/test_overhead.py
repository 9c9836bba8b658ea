"""WorkTimers: the overhead share counts what is not forward, backward or step."""

from __future__ import annotations

import time

import torch

from poolbench.bench.overhead import WorkTimers


def test_restart_forgets_the_warm_up():
    model = torch.nn.Linear(3, 1)
    with WorkTimers(torch.device("cpu")) as timers:
        timers.attach(model)
        model(torch.ones(2, 3)).sum().backward()
        time.sleep(0.5)  # a slow first epoch: without restart the share is > 0.9
        timers.restart()
        assert timers.work == {"forward": 0.0, "backward": 0.0, "step": 0.0}
        start = time.perf_counter()
        while time.perf_counter() - start < 0.02:
            model(torch.ones(2, 3)).sum().backward()  # only work after the restart
    assert timers.work["forward"] > 0 and timers.work["backward"] > 0
    assert timers.overhead_share() < 0.9  # the sleep before restart is not counted


def test_the_whole_optimizer_step_counts_as_work():
    model = torch.nn.Linear(3, 1)
    with WorkTimers(torch.device("cpu")) as timers:
        opt = torch.optim.Adam(model.parameters(), fused=True)
        timers.attach(model)
        model(torch.ones(2, 3)).sum().backward()
        opt.step()
    assert timers.work["step"] > 0
    # outside the context, optimizers are left alone
    assert "step" not in vars(torch.optim.Adam(model.parameters()))


def test_the_tasks_loss_counts_as_forward_work_and_is_restored():
    """Both paths' loss is their task's ``loss``: a slow loss must land in
    forward, not in the overhead."""
    from types import SimpleNamespace

    from poolbench.tasks.graph import GraphClassification

    original = GraphClassification.loss
    task = GraphClassification()
    out = SimpleNamespace(logits=torch.zeros(2, 2), aux_loss={})
    batch = SimpleNamespace(y=torch.tensor([0, 1]))

    def slow(self, out, batch):
        time.sleep(0.05)
        return original(self, out, batch)

    GraphClassification.loss = slow
    try:
        with WorkTimers(torch.device("cpu")) as timers:
            timers.attach(torch.nn.Linear(1, 1))
            task.loss(out, batch)
        assert timers.work["forward"] >= 0.05
        assert timers.overhead_share() < 0.5
        # after the context the class's method is what it was before
        assert GraphClassification.loss is slow
    finally:
        GraphClassification.loss = original
