"""Older and damaged headers: read by the known schemas, migrated on append.

``data/results-v0.1.csv`` is a store as poolbench 0.1 wrote it (before the
protocol_folds and protocol_runs columns): two ok rows and a failed one.
"""

from __future__ import annotations

import csv
import os
import random
import shutil
from pathlib import Path

import pandas as pd
import pytest

from poolbench.errors import StoreWriteError
from poolbench.results.row import COLUMNS, OLD_SCHEMAS, ResultRow
from poolbench.results.store import ResultsStore

V01 = Path(__file__).parent / "data" / "results-v0.1.csv"


def new_row(run=5) -> ResultRow:
    return ResultRow(
        experiment="MUTAG-topk",
        dataset="MUTAG",
        pooler="topk",
        model="gin[2-1]h64",
        protocol="holdout",
        protocol_folds=1,
        protocol_runs=1,
        fold=0,
        run=run,
        seed=1,
        config_hash="8460ac8b642f",
        test_acc=0.5,
        data_fingerprint="34b08464b063",
    )


@pytest.fixture
def old_store(tmp_path) -> ResultsStore:
    shutil.copy(V01, tmp_path / "results.csv")
    return ResultsStore(tmp_path)


def test_the_fixture_is_in_the_old_schema():
    assert V01.read_text().splitlines()[0].split(",") == OLD_SCHEMAS[0]
    assert OLD_SCHEMAS[0] != COLUMNS


def test_an_old_file_reads_by_its_own_header(old_store):
    frame = old_store.read()
    assert list(frame.columns) == COLUMNS
    assert frame.pooler.tolist() == ["topk", "mincut", "mincut"]
    assert frame.status.tolist() == ["ok", "ok", "failed"]
    assert frame.error[2] == 'RuntimeError: boom, "quoted"'
    assert frame.test_acc[0] == pytest.approx(0.6842105263157895)
    assert (frame.protocol_folds == 0).all() and (frame.protocol_runs == 0).all()
    assert old_store.last_read.header_state == "old" and not old_store.read_warning()


def test_appending_to_an_old_file_migrates_it_to_the_current_header(old_store):
    before = old_store.read()
    old_store.append(new_row())
    lines = old_store.path.read_text().splitlines()
    assert lines[0].split(",") == COLUMNS
    # still a plain CSV: every line has the header's width
    with open(old_store.path, newline="") as f:
        assert {len(r) for r in csv.reader(f)} == {len(COLUMNS)}
    plain = pd.read_csv(old_store.path)
    assert list(plain.columns) == COLUMNS and len(plain) == 4
    after = old_store.read()
    assert len(after) == 4 and after.protocol_folds.tolist() == [0, 0, 0, 1]
    old_cols = [c for c in OLD_SCHEMAS[0]]
    pd.testing.assert_frame_equal(after[old_cols].iloc[:3], before[old_cols])
    old_store.append(new_row(6))  # no second migration: a plain append
    assert old_store.path.read_text().splitlines()[:5] == lines
    assert not list(old_store.dir.glob(".results.csv.*.tmp"))


def test_migration_keeps_a_damaged_line_byte_for_byte(old_store):
    text = V01.read_bytes().split(b"\n")
    fragment = b'MUTAG-sag,MUTAG,sag,gin,holdout,0,0,1,abc,"RuntimeError: a, b'
    old_store.path.write_bytes(b"\n".join(text[:2] + [fragment] + text[2:]))
    old_store.append(new_row())
    data = old_store.path.read_bytes()
    assert fragment + b"\n" in data
    assert len(old_store.read()) == 4 and old_store.last_read.damaged == [3]


def current_file(tmp_path) -> ResultsStore:
    store = ResultsStore(tmp_path)
    for run in range(3):
        store.append(new_row(run))
    return store


def damage_header(data: bytes, how: str) -> bytes:
    header, rest = data.split(b"\n", 1)
    if how == "cut short":
        return header[:25] + b"\n" + rest
    if how == "a name mangled":
        return header.replace(b"dataset", b"dat\xc3\xa9set", 1) + b"\n" + rest
    if how == "random bytes":
        return random.Random(3).randbytes(80).replace(b"\n", b"") + b"\n" + rest
    if how == "missing":
        return rest
    if how == "old header cut short":
        old = ",".join(OLD_SCHEMAS[0]).encode()
        return old[:-3] + b"\n" + rest
    raise ValueError(how)


HOW = ["cut short", "a name mangled", "random bytes", "missing"]


@pytest.mark.parametrize("how", HOW)
def test_a_damaged_header_is_recovered_then_repaired(tmp_path, how):
    store = current_file(tmp_path)
    store.path.write_bytes(damage_header(store.path.read_bytes(), how))
    assert store.read().run.tolist() == [0, 1, 2]
    assert "header line is damaged" in store.read_warning()
    store.append(new_row(3))
    assert store.path.read_text().splitlines()[0].split(",") == COLUMNS
    assert store.read().run.tolist() == [0, 1, 2, 3]
    assert not store.read_warning()  # the header is whole again


def test_a_damaged_old_header_is_recovered_by_the_old_schema(old_store):
    data = old_store.path.read_bytes()
    old_store.path.write_bytes(damage_header(data, "old header cut short"))
    frame = old_store.read()
    assert old_store.last_read.columns == OLD_SCHEMAS[0]
    assert frame.pooler.tolist() == ["topk", "mincut", "mincut"]
    assert frame.error[2] == 'RuntimeError: boom, "quoted"'


def test_a_header_of_another_version_is_read_but_never_rewritten(tmp_path):
    store = current_file(tmp_path)
    header, rest = store.path.read_bytes().split(b"\n", 1)
    future = header.replace(b",status", b",gpu_name,status")
    rows = [line.replace(b",ok", b",H100,ok") for line in rest.split(b"\n")]
    store.path.write_bytes(future + b"\n" + b"\n".join(rows))
    before = store.path.read_bytes()
    assert store.read().run.tolist() == [0, 1, 2]
    with pytest.raises(StoreWriteError, match="another version"):
        store.append(new_row(3))
    assert store.path.read_bytes() == before


def test_a_migration_that_cannot_write_leaves_the_file_as_it_was(
    old_store, monkeypatch
):
    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    before = old_store.path.read_bytes()
    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(StoreWriteError, match="could not migrate .*ENOSPC"):
        old_store.append(new_row())
    assert old_store.path.read_bytes() == before
    assert not list(old_store.dir.glob(".results.csv.*.tmp"))


def test_a_file_of_the_development_schema_reads_and_migrates(tmp_path):
    """Rows written between protocol_folds and the task columns: graph
    classification, as every row was then."""
    cols = OLD_SCHEMAS[1]
    assert "protocol_folds" in cols and "task" not in cols
    rows = [new_row(run) for run in range(2)]
    with open(tmp_path / "results.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow([getattr(r, c) for c in cols])
    store = ResultsStore(tmp_path)
    frame = store.read()
    assert frame.run.tolist() == [0, 1] and store.last_read.header_state == "old"
    assert set(frame.task) == {"graph"} and set(frame.metric) == {"acc"}
    store.append(new_row(2))
    assert store.path.read_text().splitlines()[0].split(",") == COLUMNS
    assert store.read().run.tolist() == [0, 1, 2]


def test_a_run_label_adds_the_cell_to_a_name_shared_by_cells():
    row = new_row(run=1)
    assert row.label == "MUTAG-topk fold 0 run 1"  # the default name is the cell
    row.experiment = "bianchi2022"  # a reproduction's name, the same for all cells
    assert row.label == "bianchi2022 (topk on MUTAG) fold 0 run 1"
