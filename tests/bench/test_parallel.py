"""bench --parallel's settings: the CPU fallback and the one-GPU comparison.

The sweeps themselves are timed processes; here ``run_setting`` is replaced by
a recorder, so the plan each setting gets is checked without running them.
"""

from __future__ import annotations

import pytest

import poolbench.bench.parallel as parallel


@pytest.fixture
def recorded(monkeypatch):
    calls = []

    def fake(jobs, threads, runs, dataset, pooler, epochs, slots=None):
        calls.append((jobs, threads, slots))
        return 10.0 / jobs  # perfect scaling, seconds

    monkeypatch.setattr(parallel, "run_setting", fake)
    return calls


def test_without_a_gpu_auto_falls_back_to_the_cpu_settings(recorded, monkeypatch):
    monkeypatch.setattr("poolbench.training.device.visible_gpus", lambda: [])
    rows = parallel.measure_parallel("mutag", "topk", runs=8, device="auto")
    assert [(r.jobs, r.threads_per_job, r.device) for r in rows] == [
        (1, "1", "cpu"),
        (2, "1", "cpu"),
        (2, "default", "cpu"),
    ]
    assert all(slots is None for *_, slots in recorded)
    assert [r.runs_per_min for r in rows] == pytest.approx([48.0, 96.0, 96.0])
    assert [r.speedup_vs_1_job for r in rows] == pytest.approx([1.0, 2.0, 2.0])


def test_with_a_gpu_one_job_is_compared_with_n_sharing_gpu_0(recorded, monkeypatch):
    monkeypatch.setattr("poolbench.training.device.visible_gpus", lambda: ["0", "1"])
    rows = parallel.measure_parallel("mutag", "topk", runs=8, concurrency=4)
    assert [(r.jobs, r.device) for r in rows] == [(1, "cuda:0"), (4, "cuda:0")]
    one, four = recorded[0][2], recorded[1][2]
    assert [s.device for s in four] == ["cuda:0"] * 4  # all on GPU 0, not spread
    assert one[0].memory_fraction == pytest.approx(0.9)
    assert [s.memory_fraction for s in four] == pytest.approx([0.225] * 4)
    assert rows[1].runs_per_min == pytest.approx(4 * rows[0].runs_per_min)
