"""Stop signals: the reason written into a row, and when the signal is raised."""

from __future__ import annotations

import os
import signal

import pytest

from poolbench.training.signals import (
    Interrupted,
    interruption,
    signals_held,
    stop_on_signals,
    stop_signals,
)

SLURM_VARS = ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID")


@pytest.fixture
def no_slurm(monkeypatch):
    for name in SLURM_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def array_task(monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "41")
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "40")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "1")


def test_outside_slurm_sigterm_and_ctrl_c_stop_and_say_so(no_slurm):
    # SIGUSR2 means nothing here
    assert stop_signals() == [signal.SIGTERM, signal.SIGINT]
    stop = interruption(signal.SIGTERM)
    assert (stop.reason, stop.time_limit) == ("stopped by SIGTERM", False)
    ctrl_c = interruption(signal.SIGINT)
    assert (ctrl_c.reason, ctrl_c.time_limit) == ("stopped by SIGINT (Ctrl-C)", False)


def test_in_a_slurm_array_task_sigusr2_is_the_time_limit(array_task):
    assert stop_signals() == [signal.SIGTERM, signal.SIGINT, signal.SIGUSR2]
    warning = interruption(signal.SIGUSR2)
    assert warning.time_limit
    assert warning.reason == (
        "Slurm time limit: job 40_1 got SIGUSR2, its warning "
        "hydra.launcher.signal_delay_s before the limit"
    )
    term = interruption(signal.SIGTERM)
    assert not term.time_limit
    assert term.reason == (
        "stopped by SIGTERM from Slurm: job 40_1 was cancelled, preempted "
        "or reached its time limit"
    )


def test_a_plain_slurm_job_is_named_by_its_id(monkeypatch, no_slurm):
    monkeypatch.setenv("SLURM_JOB_ID", "77")
    assert "job 77 " in interruption(signal.SIGUSR2).reason


def test_sigterm_raises_inside_the_block_and_handlers_come_back(no_slurm):
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted) as caught, stop_on_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(10**6):  # the handler runs between bytecodes
            pass
    assert caught.value.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_held_signal_is_raised_when_the_write_is_done(no_slurm):
    steps = []
    with pytest.raises(Interrupted), stop_on_signals():
        with signals_held():
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(10**5):
                pass
            steps.append("row written")
        steps.append("after the block")  # never reached: raised at the block's end
    assert steps == ["row written"]


def test_ctrl_c_outside_a_run_is_one_line_exit_130(monkeypatch, capsys):
    import poolbench.catalog
    from poolbench.cli import main

    def interrupted(argv):
        raise KeyboardInterrupt

    monkeypatch.setattr(poolbench.catalog, "list_command", interrupted)
    with pytest.raises(SystemExit) as stop:
        main(["list", "poolers"])
    assert stop.value.code == 130
    err = capsys.readouterr().err
    assert err.startswith("poolbench: interrupted (Ctrl-C)") and err.count("\n") == 1
