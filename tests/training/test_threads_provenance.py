"""The CPU thread count is recorded with each run: torch splits reductions
over its threads, so the same seed on 1 and 2 threads differs in the last
digits. It stays out of the config hash (a rerun on another machine resumes),
so a cell that mixes thread counts is said at resume and marked in tables."""

from __future__ import annotations

import torch

from poolbench.results.row import distinct_devices
from poolbench.training.device import device_label
from tests.cli_helpers import QUICK, rows

RUNS = ["pooler=topk", "dataset=mutag", "protocol=holdout", "protocol.runs=2", *QUICK]


def test_the_cpu_label_carries_the_thread_count():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert device_label(torch.device("cpu")) == "cpu (1 thread)"
        torch.set_num_threads(2)
        assert device_label(torch.device("cpu")) == "cpu (2 threads)"
    finally:
        torch.set_num_threads(before)


def test_a_gpu_label_names_the_model_not_the_index(monkeypatch):
    """Folds on cuda:0 and cuda:1 of one machine are one device; older rows'
    ``cuda``/``cuda:1`` match it, another model does not."""
    names = {0: "NVIDIA H200", 1: "NVIDIA H200", 2: "NVIDIA A100-SXM4-80GB"}
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d: names[d.index])
    labels = {device_label(torch.device(f"cuda:{i}")) for i in (0, 1)}
    assert labels == {"cuda (NVIDIA H200)"}
    assert distinct_devices(labels | {"cuda", "cuda:1"}) == labels
    other = device_label(torch.device("cuda:2"))
    assert distinct_devices(labels | {other}) == labels | {other}


def test_a_cell_run_on_two_thread_counts_is_said_and_marked(cli):
    assert cli("train", *RUNS, "trainer.threads=1").returncode == 0
    store = cli.cwd / "results" / "results.csv"
    head, first, _second = store.read_text().splitlines()
    store.write_text(f"{head}\n{first}\n")  # run 1 is to do again
    out = cli("train", *RUNS, "trainer.threads=2")
    assert out.returncode == 0, out.stderr
    assert "made on device cpu (1 thread) (now cpu (2 threads))" in out.stderr
    assert sorted(rows(cli.cwd).device) == ["cpu (1 thread)", "cpu (2 threads)"]
    table = cli("table", "--no-figures")
    assert table.returncode == 0, table.stderr
    cells = (cli.cwd / "results" / "tables" / "accuracy-holdout.md").read_text()
    assert "§" in cells


def test_fold_workers_and_a_last_fold_alone_get_one_count(cli):
    """With trainer.threads=0 each of n_jobs workers gets cores / n_jobs; a
    resumed sweep with one fold left ran it in the parent with all cores, so
    the cell mixed counts (and numbers) by where the sweep had stopped."""
    args = [
        "train", "pooler=topk", "dataset=mutag", "protocol.folds=2",
        "protocol.runs=1", "protocol.n_jobs=2", "trainer.threads=0", *QUICK,
    ]  # fmt: skip
    assert cli(*args).returncode == 0
    store = cli.cwd / "results" / "results.csv"
    head, first, _second = store.read_text().splitlines()
    store.write_text(f"{head}\n{first}\n")  # one fold left: run in the parent
    out = cli(*args)
    assert out.returncode == 0, out.stderr
    assert "1 of 2 runs to do" in out.stderr and "made on device" not in out.stderr
    assert len(set(rows(cli.cwd).device)) == 1


def test_rows_from_before_the_thread_count_are_not_called_mixed(cli):
    assert cli("train", *RUNS).returncode == 0
    store = cli.cwd / "results" / "results.csv"
    head, first, _second = store.read_text().splitlines()
    # as an older poolbench wrote it: the device without its thread count
    store.write_text(f"{head}\n{first.replace('cpu (1 thread)', 'cpu')}\n")
    out = cli("train", *RUNS)
    assert out.returncode == 0 and "made on device" not in out.stderr
    assert sorted(rows(cli.cwd).device) == ["cpu", "cpu (1 thread)"]
    assert cli("table", "--no-figures").returncode == 0
    cells = (cli.cwd / "results" / "tables" / "accuracy-holdout.md").read_text()
    assert "§" not in cells


def test_uncommitted_code_is_recorded_by_the_state_of_its_edits(tmp_path, monkeypatch):
    """Two states of uncommitted code (a pooler being written) are two code
    versions in the rows, not one ``+dirty``."""
    import subprocess

    import poolbench
    from poolbench.runner import git_commit

    def git(*args):
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=tmp_path, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip

    source = tmp_path / "poolbench" / "pool.py"
    source.parent.mkdir()
    source.write_text("K = 1\n")
    (tmp_path / "README.md").write_text("words\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "one")
    monkeypatch.setattr(poolbench, "__file__", str(source.parent / "__init__.py"))
    read = git_commit.__wrapped__  # uncached
    head = git("rev-parse", "HEAD")[:12]
    assert read() == head
    source.write_text("K = 2\n")
    first = read()
    source.write_text("K = 3\n")
    second = read()
    assert first.startswith(f"{head}+dirty.") and second.startswith(f"{head}+dirty.")
    assert first != second
    source.write_text("K = 1\n")
    assert read() == head
    (tmp_path / "README.md").write_text("other words\n")  # not code
    assert read() == head
    new = source.parent / "new_pool.py"  # a pooler being written, untracked
    new.write_text("K = 4\n")
    assert read().startswith(f"{head}+dirty.")
