"""``poolbench bench`` through the real CLI: keys and sane values, no timing goals."""

from __future__ import annotations

import json
import math
import os

import pytest

from tests.cli_helpers import REPO, run_cli

KEYS = {
    "dataset",
    "pooler",
    "default_sec_per_epoch",
    "tuned_sec_per_epoch",
    "poolbench_sec_per_epoch",
    "speedup_vs_default",
    "speedup_vs_tuned",
    "overhead_share",
    "peak_mem_mb",
    "tuned_overhead_share",
    "precompute_sec",
    "plain_peak_mem_mb",
}


def test_bench_json_rows_have_exactly_the_keys_and_sane_values(
    tmp_path, data_root, mirror
):
    args = ["bench", "--datasets", "mutag", "--poolers", "topk,graclus"]
    res = run_cli([*args, "--epochs", "2", "--json"], tmp_path, data_root, mirror)
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert [(r["dataset"], r["pooler"]) for r in rows] == [
        ("MUTAG", "topk"),
        ("MUTAG", "graclus"),
    ]
    for row in rows:
        assert set(row) == KEYS
        for key in KEYS - {"dataset", "pooler"}:
            assert isinstance(row[key], float) and math.isfinite(row[key]), key
        for key in ("default", "tuned", "poolbench"):
            assert row[f"{key}_sec_per_epoch"] > 0
        assert math.isclose(
            row["speedup_vs_tuned"],
            row["tuned_sec_per_epoch"] / row["poolbench_sec_per_epoch"],
        )
        assert 0 <= row["overhead_share"] < 1
        assert 0 <= row["tuned_overhead_share"] < 1
        assert row["peak_mem_mb"] > 0 and row["plain_peak_mem_mb"] > 0


def test_bench_help_and_bad_input(tmp_path, data_root):
    res = run_cli(["bench", "--help"], tmp_path, data_root, None)
    assert res.returncode == 0
    for word in ("--json", "--parallel", "--scaling", "overhead", "peak memory"):
        assert word in res.stdout
    res = run_cli(["bench", "--poolers", "nope"], tmp_path, data_root, None)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "unknown pooler 'nope'" in res.stderr


def test_scaling_sweep_writes_csv_and_plot_and_skips_at_the_cap(tmp_path, data_root):
    out = tmp_path / "scaling"
    args = ["bench", "--scaling", "--max-nodes", "1000", "--mem-cap-mb", "5"]
    res = run_cli([*args, "--out", str(out), "--json"], tmp_path, data_root, None)
    assert res.returncode == 0, res.stderr
    points = json.loads(res.stdout)
    assert (out / "scaling.csv").stat().st_size > 0
    assert (out / "scaling.png").stat().st_size > 0
    by = {(p["pooler"], p["graph"], p["nodes"]): p for p in points}
    # A dense pooler's N=1000 estimate (32 MB x 1.5) passes the 5 MB cap: skipped.
    assert by[("mincut", "erdos_renyi", 1000)]["status"] == "skip_mem"
    assert by[("mincut", "erdos_renyi", 100)]["status"] == "ok"
    assert by[("topk", "barabasi_albert", 100)]["status"] == "ok"
    assert {p["status"] for p in points} <= {"ok", "skip_mem", "skip_time"}


def test_readme_names_the_scaling_outputs():
    text = (REPO / "README.md").read_text()
    assert "make bench-scaling" in text and "docs/scaling/scaling.png" in text


PEER_KEYS = {
    "dataset",
    "pooler",
    "tgp_sec_per_epoch",
    "poolbench_sec_per_epoch",
    "speedup_vs_tgp",
    "parameter_free",
}


def test_peer_bench_quick_json_rows(tmp_path, data_root, mirror):
    """The CI-sized peer run: one row per shared pooler, ratios that add up."""
    pytest.importorskip("tgp")
    res = run_cli(["bench", "--peer", "tgp", "--quick", "--json"], tmp_path,
                  data_root, mirror)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    rows = json.loads(res.stdout)
    assert [(r["dataset"], r["pooler"]) for r in rows] == [
        ("MUTAG", "mincut"),
        ("MUTAG", "topk"),
        ("MUTAG", "kmis"),
    ]
    for row in rows:
        assert PEER_KEYS <= set(row)
        assert row["tgp_sec_per_epoch"] > 0 and row["poolbench_sec_per_epoch"] > 0
        assert math.isclose(
            row["speedup_vs_tgp"],
            row["tgp_sec_per_epoch"] / row["poolbench_sec_per_epoch"],
        )  # one repeat: the median ratio is the ratio of the medians
        assert row["tgp_epochs"] == row["poolbench_epochs"] == 2  # 3, one warm-up
    assert [r["parameter_free"] for r in rows] == [False, False, True]


def test_peer_bench_without_tgp_names_the_install_target(tmp_path, data_root):
    # a tgp that cannot be imported, ahead of the real one on the path
    fake = tmp_path / "fake"
    (fake / "tgp").mkdir(parents=True)
    (fake / "tgp" / "__init__.py").write_text("raise ImportError('no tgp here')\n")
    path = os.pathsep.join([str(fake), str(REPO)])
    res = run_cli(["bench", "--peer", "tgp", "--quick"], tmp_path, data_root, None,
                  env={"PYTHONPATH": path})  # fmt: skip
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0
    assert "make install-reference" in res.stderr


def test_peer_bench_refuses_unknown_names_before_any_work(tmp_path, data_root):
    args = ["bench", "--peer", "tgp", "--poolers", "mincut,nope"]
    res = run_cli(args, tmp_path, data_root, None)
    assert res.returncode == 2
    assert "unknown pooler 'nope'" in res.stderr and "timing" not in res.stderr


def test_parallel_bench_on_cuda_without_a_gpu_is_one_line(tmp_path, data_root):
    args = ["bench", "--parallel", "--device", "cuda", "--runs", "2"]
    env = {"CUDA_VISIBLE_DEVICES": ""}  # no GPU, even on a machine that has one
    res = run_cli(args, tmp_path, data_root, None, env=env)
    assert res.returncode == 2 and "no GPU is visible" in res.stderr
    assert res.stderr.strip().count("\n") == 0


def test_versus_none_json_rows(tmp_path, data_root, mirror):
    args = ["bench", "--versus", "none", "--datasets", "mutag", "--poolers"]
    args += ["mincut,graclus", "--epochs", "2", "--repeats", "2", "--json"]
    res = run_cli(args, tmp_path, data_root, mirror)
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert [(r["dataset"], r["pooler"]) for r in rows] == [
        ("MUTAG", "mincut"),
        ("MUTAG", "graclus"),
    ]
    for r in rows:
        assert set(r) == {
            "dataset", "pooler", "sec_per_epoch", "none_sec_per_epoch",
            "times_none", "ratios",
        }  # fmt: skip
        assert r["sec_per_epoch"] > 0 and r["none_sec_per_epoch"] > 0
        assert len(r["ratios"]) == 2 and all(x > 0 for x in r["ratios"])
        lo, hi = sorted(r["ratios"])
        assert lo <= r["times_none"] <= hi  # the median of the two


def test_bench_times_a_regression_set_with_its_task(tmp_path, data_root, mirror):
    """FreeSolv's real targets train with the task's MSE on both paths."""
    args = ["bench", "--datasets", "freesolv", "--poolers", "topk", "--epochs", "2"]
    res = run_cli([*args, "--json"], tmp_path, data_root, mirror)
    assert res.returncode == 0, res.stderr[-3000:]
    (row,) = json.loads(res.stdout)
    assert (row["dataset"], row["pooler"]) == ("FreeSolv", "topk")
    for key in KEYS - {"dataset", "pooler"}:
        assert math.isfinite(row[key]), key
    assert row["poolbench_sec_per_epoch"] > 0 and row["tuned_sec_per_epoch"] > 0


def test_versus_none_times_a_regression_set(tmp_path, data_root, mirror):
    args = ["bench", "--versus", "none", "--datasets", "freesolv", "--poolers"]
    args += ["mincut", "--epochs", "2", "--repeats", "1", "--json"]
    res = run_cli(args, tmp_path, data_root, mirror)
    assert res.returncode == 0, res.stderr[-3000:]
    (row,) = json.loads(res.stdout)
    assert row["sec_per_epoch"] > 0 and row["none_sec_per_epoch"] > 0


def test_bench_refuses_a_node_level_set_in_one_line(tmp_path, data_root):
    """Cora is one graph: exit 2 and one line naming its preset, before any
    timing."""
    res = run_cli(["bench", "--datasets", "mutag,cora"], tmp_path, data_root, None)
    assert res.returncode == 2, res.stderr[-2000:]
    assert res.stderr.strip().count("\n") == 0, res.stderr
    assert res.stderr.startswith("poolbench: error: cora is one graph")
    assert "scripts/bench.py node --datasets cora --dry-run" in res.stderr
    assert "timing" not in res.stderr and not res.stdout


@pytest.mark.parametrize(
    "args, says",
    [
        (["--versus", "none", "--datasets", "sbm"], "scripts/bench.py community"),
        (["--parallel", "--datasets", "citeseer"], "graph-level datasets"),
        (["--peer", "tgp", "--datasets", "freesolv"], "graph classification only"),
    ],
)
def test_bench_refuses_what_it_cannot_time(args, says):
    """Node-level sets in every mode, regression sets in tgp's classification
    loop: refused while the arguments are read."""
    from poolbench.bench.cli import parse_args
    from poolbench.errors import PoolbenchError

    with pytest.raises(PoolbenchError, match=says) as refused:
        parse_args(args)
    assert "\n" not in str(refused.value)
