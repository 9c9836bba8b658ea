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
