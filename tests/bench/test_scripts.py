"""The measuring scripts the README quotes run and print what they claim."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys

import pytest

from tests.cli_helpers import REPO


def run_script(name, *args, data_root=None, mirror=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    if data_root is not None:
        env.update(POOLBENCH_DATA=str(data_root), POOLBENCH_DATA_MIRROR=str(mirror))
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / name), *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_padding_rows_groups_pad_no_more_than_one_block(data_root, mirror):
    out = run_script("padding_rows.py", "mutag", data_root=data_root, mirror=mirror)
    (line,) = [row for row in out.splitlines() if row.startswith("MUTAG")]
    one, grouped = (float(v) for v in re.findall(r"([\d.]+)x", line))
    assert 1.0 <= grouped <= one


def test_loss_costs_times_every_piece(data_root, mirror):
    out = run_script(
        "loss_costs.py", "mutag", "--repeats", 1, data_root=data_root, mirror=mirror
    )
    times = dict(re.findall(r"^(\S.*?)\s+([\d.]+) ms$", out, re.M))
    assert len(times) == 7 and all(float(v) > 0 for v in times.values())
    assert "none: a training step" in times


def test_bnpool_memory_reports_floats_per_pair():
    out = run_script("bnpool_memory.py", 300)
    assert re.search(r"8 graphs x 300 nodes: peak memory \+\d+ MiB", out)


def test_softmax_width_times_both_forms_per_width():
    out = run_script("softmax_width.py", "--widths", "9,16", "--repeats", 1)
    rows = re.findall(r"^K = +(\d+): +([\d.]+) / +([\d.]+) \(", out, re.M)
    assert [int(k) for k, _, _ in rows] == [9, 16]
    assert all(float(a) > 0 and float(b) > 0 for _, a, b in rows)


def test_bench_dry_run_echoes_a_command_that_can_be_pasted(tmp_path, mirror):
    out = run_script(
        "bench.py",
        "smoke",
        "--dry-run",
        "--no-project",
        "--results-dir",
        tmp_path / "results",
        data_root=tmp_path / "data",
        mirror=mirror,
    )
    assert "[bench] smoke: 4 poolers × 1 dataset (mutag)" in out
    (echo,) = [line for line in out.splitlines() if line.startswith("[bench] $ ")]
    assert echo.startswith("[bench] $ poolbench train -m pooler=")
    assert not (tmp_path / "results").exists()  # a dry run writes nothing


DURATION = r"(\d+(?:\.\d+)?) (s|min|h|days)"


@pytest.mark.parametrize(
    "preset, poolers, dataset",
    [
        ("regression", "topk", "freesolv"),  # real targets: the task's MSE
        ("node", "topk", "cora"),  # one graph: the U-Net, trained full batch
        ("community", "dmon,kmeans", "sbm"),  # no labels; kmeans trains nothing
    ],
)
def test_bench_dry_run_projects_each_preset_with_its_task(
    preset, poolers, dataset, tmp_path, data_root, mirror
):
    """The projection calibrates every preset with the task its runs train."""
    out = run_script(
        "bench.py", preset, "model.hidden=8", "--poolers", poolers, "--datasets",
        dataset, "--dry-run", "--calibration-cap", 300, "--results-dir",
        tmp_path / "results",
        data_root=data_root, mirror=mirror,
    )  # fmt: skip
    (line,) = [x for x in out.splitlines() if "projected wall time" in x]
    times = re.findall(DURATION, line.split(": ", 1)[1])
    assert times and all(math.isfinite(float(v)) for v, _ in times), line
    costs = next(x for x in out.splitlines() if x.startswith("[bench] costs"))
    measured = 1 if preset == "community" else len(poolers.split(","))
    assert costs.startswith(f"[bench] costs per epoch: {measured} jobs measured")
    if preset == "community":
        assert "no early stopping" in line and "1 untrained baselines" in costs
    assert not (tmp_path / "results").exists()  # a dry run writes nothing


def test_bench_preset_narrowing_refuses_names_outside_the_preset(tmp_path):
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench.py"), "node", "--datasets",
         "sbm", "--dry-run", "--results-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--datasets 'sbm': not in this preset; choose from cora, citeseer" in (
        done.stderr
    )


def test_a_failed_calibration_is_left_out_of_the_projection(monkeypatch, capsys):
    """A calibration that raises (a NaN loss, a pooler's error) stopped the
    script with a traceback; the sweep itself would write a failed row."""
    import importlib.util

    from poolbench.bench import projection
    from poolbench.errors import RunFailure

    spec = importlib.util.spec_from_file_location("bench", REPO / "scripts/bench.py")
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench", bench)  # its dataclasses look it up
    spec.loader.exec_module(bench)

    def nan(exp, device):
        raise RunFailure("nan", "NaN loss at epoch 1")

    monkeypatch.setattr(projection, "measure_sec_per_epoch", nan)

    class Exp:
        pooler_name, dataset = "mincut", type("D", (), {"name": "MUTAG"})

    cost = bench.measure_within(Exp, None, cap_sec=60)
    assert (cost.source, cost.pooler, cost.dataset) == ("failed", "mincut", "MUTAG")
    assert "calibration of mincut × MUTAG failed (RunFailure: NaN loss" in (
        capsys.readouterr().err
    )
