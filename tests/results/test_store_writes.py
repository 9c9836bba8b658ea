"""A write that fails (disk full, I/O error, read-only) leaves the store as it
was and raises one line that names the cause and the run it could not record."""

from __future__ import annotations

import errno
import json
import os

import pytest

from poolbench.errors import StoreWriteError
from poolbench.results.row import ResultRow
from poolbench.results.store import ResultsStore


def row(run=0, fingerprint="d1", status="ok") -> ResultRow:
    return ResultRow(
        experiment="MUTAG-sag",
        dataset="MUTAG",
        pooler="sag",
        model="m",
        protocol="holdout",
        protocol_folds=1,
        protocol_runs=2,
        fold=0,
        run=run,
        seed=1,
        config_hash="abc",
        test_acc=0.8421,
        data_fingerprint=fingerprint,
        status=status,
    )


def fail_after_half(monkeypatch, err: int):
    """os.write writes half its bytes (a short write), then fails with ``err``."""
    real = os.write
    calls = []

    def write(fd, data):
        calls.append(len(data))
        if len(calls) == 1:
            return real(fd, bytes(data)[: len(data) // 2])
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(os, "write", write)
    return calls


@pytest.mark.parametrize(
    "err, name", [(errno.ENOSPC, "ENOSPC"), (errno.EFBIG, "EFBIG")]
)
def test_a_short_write_then_a_full_disk_leaves_no_fragment(
    tmp_path, monkeypatch, err, name
):
    store = ResultsStore(tmp_path)
    store.append(row(0))
    before = store.path.read_bytes()
    calls = fail_after_half(monkeypatch, err)
    with pytest.raises(StoreWriteError) as info:
        store.record(row(1))
    assert len(calls) == 2  # the short write was noticed and retried
    message = str(info.value)
    assert "\n" not in message
    assert f"({name})" in message and "the file is unchanged" in message
    assert "Not recorded: MUTAG-sag fold 0 run 1 (ok, test_acc 0.8421)" in message
    assert store.path.read_bytes() == before  # cut back: no fragment
    monkeypatch.undo()
    store.append(row(1))  # space again: the next row is a clean line
    assert store.read().run.tolist() == [0, 1] and not store.last_read.damaged


def test_an_io_error_on_fsync_takes_the_row_back(tmp_path, monkeypatch):
    store = ResultsStore(tmp_path)
    store.append(row(0))
    before = store.path.read_bytes()

    def eio(fd):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "fsync", eio)
    with pytest.raises(StoreWriteError, match=r"\(EIO\)"):
        store.append(row(1))
    assert store.path.read_bytes() == before


def test_a_file_that_cannot_be_opened_for_writing(tmp_path, monkeypatch):
    store = ResultsStore(tmp_path)
    real = os.open

    def read_only(path, flags, *args):
        if str(path) == str(store.path) and flags & (os.O_WRONLY | os.O_RDWR):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        return real(path, flags, *args)

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(StoreWriteError, match=r"cannot write .*results.csv.*EACCES"):
        store.append(row(0))
    assert not store.path.exists()


def test_a_results_dir_that_is_a_file(tmp_path):
    (tmp_path / "results").write_text("not a folder")
    store = ResultsStore(tmp_path / "results")
    with pytest.raises(StoreWriteError, match="cannot write to .*results"):
        store.record(row(0))


def test_resume_counts_only_runs_made_on_the_same_data(tmp_path):
    store = ResultsStore(tmp_path)
    store.append(row(0, fingerprint="old"))
    store.append(row(1, fingerprint="old"))
    store.append(row(0, fingerprint="new"))
    assert store.completed("new") == {("abc", 0, 0)}
    assert store.completed("old") == {("abc", 0, 0), ("abc", 0, 1)}
    latest = store.latest()  # the old row is not replaced by the new-data run
    assert sorted(zip(latest.data_fingerprint, latest.run)) == [
        ("new", 0),
        ("old", 0),
        ("old", 1),
    ]


def test_summaries_keep_one_line_per_experiment_the_latest(tmp_path):
    store = ResultsStore(tmp_path)
    path = tmp_path / "summaries.jsonl"
    # a file from before, with a duplicate and a damaged line
    path.write_text(
        '{"config_hash": "a", "data_fingerprint": "d", "acc_mean": 0.1}\n'
        '{"config_hash": "a", "data_fingerprint": "d", "acc_mean": 0.2}\n'
        '{"config_hash": "b", "data_fin\n'
    )
    store.append_summary({"config_hash": "b", "data_fingerprint": "d", "acc_mean": 1})
    store.append_summary({"config_hash": "a", "data_fingerprint": "d", "acc_mean": 3})
    store.append_summary({"config_hash": "a", "data_fingerprint": "e", "acc_mean": 4})
    lines = path.read_text().splitlines()
    assert lines[0] == '{"config_hash": "b", "data_fin'  # kept as it was
    records = [json.loads(line) for line in lines[1:]]
    assert [
        (r["config_hash"], r["data_fingerprint"], r["acc_mean"]) for r in records
    ] == [
        ("b", "d", 1),
        ("a", "d", 3),
        ("a", "e", 4),
    ]


def test_a_summary_that_cannot_be_written_leaves_the_file(tmp_path, monkeypatch):
    store = ResultsStore(tmp_path)
    store.append_summary({"config_hash": "a", "data_fingerprint": "d"})
    before = (tmp_path / "summaries.jsonl").read_bytes()
    fail_after_half(monkeypatch, errno.ENOSPC)
    with pytest.raises(StoreWriteError, match="summaries.jsonl.*ENOSPC"):
        store.append_summary({"config_hash": "b", "data_fingerprint": "d"})
    assert (tmp_path / "summaries.jsonl").read_bytes() == before
    assert not list(tmp_path.glob(".summaries.jsonl.*"))


def test_a_file_written_whole_gets_the_mode_of_the_umask(tmp_path):
    """The temp-and-rename write gave every new file 0644, world-readable
    under a private umask."""
    from poolbench.results.files import replace_atomically

    old = os.umask(0o077)
    try:
        replace_atomically(tmp_path / "private.md", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "private.md").stat().st_mode & 0o777 == 0o600
    replace_atomically(tmp_path / "private.md", b"y")  # an existing file keeps it
    assert (tmp_path / "private.md").stat().st_mode & 0o777 == 0o600
