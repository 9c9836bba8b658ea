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


def test_outside_slurm_only_sigterm_stops_and_says_so(no_slurm):
    assert stop_signals() == [signal.SIGTERM]  # SIGUSR2 means nothing here
    stop = interruption(signal.SIGTERM)
    assert (stop.reason, stop.time_limit) == ("stopped by SIGTERM", False)


def test_in_a_slurm_array_task_sigusr2_is_the_time_limit(array_task):
    assert stop_signals() == [signal.SIGTERM, signal.SIGUSR2]
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
