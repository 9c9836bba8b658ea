"""Concurrent runs on one machine: the slot plan, and the CPU fallback.

No GPU is needed: the plan is a pure function of the visible GPUs, and the
CUDA calls a GPU slot makes are checked by recording them.
"""

from __future__ import annotations

import pytest
import torch

from poolbench.training.concurrency import (
    GPU_MEMORY_SHARE,
    WorkerSlot,
    apply_slot,
    plan_workers,
)


def test_cpu_slots_share_the_cores_and_touch_no_gpu_memory():
    slots = plan_workers(4, "cpu", ["0"], cores=8)
    assert slots == [WorkerSlot("cpu", 2, None)] * 4
    assert plan_workers(3, "cpu", [], cores=2) == [WorkerSlot("cpu", 1)] * 3
    assert plan_workers(2, "cpu", [], cores=8, threads=1)[0].threads == 1


def test_auto_without_a_gpu_falls_back_to_the_cpu():
    assert [s.device for s in plan_workers(2, "auto", [], cores=2)] == ["cpu"] * 2


def test_one_gpu_is_shared_evenly_by_every_worker():
    slots = plan_workers(4, "auto", ["0"], cores=16)
    assert {s.device for s in slots} == {"cuda:0"}
    assert [s.memory_fraction for s in slots] == [pytest.approx(0.225)] * 4
    assert sum(s.memory_fraction for s in slots) == pytest.approx(GPU_MEMORY_SHARE)
    assert {s.threads for s in slots} == {4}


def test_workers_go_round_robin_over_the_visible_gpus():
    # CUDA_VISIBLE_DEVICES=3,5: the process sees them as cuda:0 and cuda:1
    slots = plan_workers(3, "cuda", ["3", "5"], cores=6)
    assert [s.device for s in slots] == ["cuda:0", "cuda:1", "cuda:0"]
    assert [s.memory_fraction for s in slots] == pytest.approx([0.45, 0.9, 0.45])


def test_an_explicit_gpu_takes_every_worker():
    slots = plan_workers(2, "cuda:1", ["0", "1"], cores=4)
    assert [s.device for s in slots] == ["cuda:1", "cuda:1"]
    assert [s.memory_fraction for s in slots] == pytest.approx([0.45, 0.45])


def test_cuda_without_a_gpu_and_no_workers_are_refused():
    with pytest.raises(ValueError, match="no GPU"):
        plan_workers(2, "cuda", [], cores=2)
    with pytest.raises(ValueError):
        plan_workers(0, "cpu", [], cores=2)


def test_a_cpu_slot_never_calls_cuda(monkeypatch):
    def refuse(*_):
        raise AssertionError("CUDA touched on a CPU slot")

    monkeypatch.setattr(torch.cuda, "set_device", refuse)
    monkeypatch.setattr(torch.cuda, "set_per_process_memory_fraction", refuse)
    threads = torch.get_num_threads()
    try:
        assert apply_slot(WorkerSlot("cpu", 1)) == "cpu"
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)


def test_a_gpu_slot_selects_its_gpu_and_caps_its_memory(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "set_device", lambda i: calls.append(("dev", i)))
    monkeypatch.setattr(
        torch.cuda,
        "set_per_process_memory_fraction",
        lambda f, i: calls.append(("fraction", f, i)),
    )
    threads = torch.get_num_threads()
    try:
        assert apply_slot(WorkerSlot("cuda:1", 1, 0.3)) == "cuda:1"
    finally:
        torch.set_num_threads(threads)
    assert calls == [("dev", 1), ("fraction", 0.3, 1)]
