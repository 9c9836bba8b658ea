"""Damage to results.csv loses at most the damaged line, never another row.

The property test cuts one row at every byte offset (a writer killed there),
then lets later runs append; separately it puts each kind of garbage between
rows. Every other row must read back unchanged, and resume must redo only
the run whose row was cut.
"""

from __future__ import annotations

import csv
import io
import os
import random
import types

import pytest

from poolbench.results.row import COLUMNS, ResultRow
from poolbench.results.store import ResultsStore
from poolbench.training.protocol import FoldJob, ProtocolConfig, pending_folds

FP = "da7af1n9e4p1"
PROTOCOL = ProtocolConfig(name="cv2", folds=2, runs=3)
TORN = 2  # the row that gets cut: fold 0, run 2


def make_rows() -> list[ResultRow]:
    rows = []
    for i in range(6):
        rows.append(
            ResultRow(
                experiment="E",
                dataset="D",
                pooler="p",
                model="m",
                protocol="cv2",
                protocol_folds=2,
                protocol_runs=3,
                fold=i // 3,
                run=i % 3,
                seed=100 + i,
                config_hash="c0ffee",
                test_acc=i / 10,
                data_fingerprint=FP,
                best_epoch=7,
                epochs=12,
                val_acc=0.75,
                val_loss=0.5,
                sec_per_epoch=0.031,
                total_sec=1.5,
                peak_mem_mb=461.2,
                mem_kind="cpu_rss",
                params=25669,
                selected='{"model.hidden": 32, "trainer.lr": 0.001}',
                device="cpu",
                torch="2.13.0+cpu",
                torch_geometric="2.8.1",
                poolbench_version="0.1.0",
                git_commit="5901e4a3edaa",
                started_at="2026-12-01T00:55:13+00:00",
                finished_at="2026-12-01T00:55:14+00:00",
                # quotes, commas and multi-byte UTF-8: cuts land inside a quoted
                # field and inside a character
                error=f'RuntimeError: "q{i}", a, b — ünïcødé' if i % 2 == 0 else "",
            )
        )
    return rows


@pytest.fixture
def fast_store(tmp_path, monkeypatch):
    # fsync changes durability, not content: skipped so that hundreds of
    # files take a second
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    return ResultsStore(tmp_path)


def encoded(store: ResultsStore, rows) -> list[bytes]:
    store.path.unlink(missing_ok=True)
    for row in rows:
        store.append(row)
    lines = store.path.read_bytes().split(b"\n")[:-1]
    return [line + b"\n" for line in lines]  # header first


def check(store: ResultsStore, rows, missing: set[int]) -> int:
    """Every row not in ``missing`` reads back exactly; returns how many."""
    frame = store.read()
    got = {(r.fold, r.run): r for r in frame.itertuples()}
    want = {i: r for i, r in enumerate(rows) if i not in missing}
    assert set(got) == {(r.fold, r.run) for r in want.values()}
    for row in want.values():
        back = got[(row.fold, row.run)]
        assert (back.seed, back.test_acc, back.error) == (
            row.seed,
            row.test_acc,
            row.error,
        )
        assert back.status == "ok" and back.data_fingerprint == FP
    todo = pending_folds(
        types.SimpleNamespace(config_hash="c0ffee"), PROTOCOL, store.completed(FP)
    )
    redo = [FoldJob(rows[i].fold, [rows[i].run]) for i in sorted(missing)]
    assert todo == redo  # resume redoes exactly the lost runs
    return len(want)


def test_a_row_cut_at_every_byte_offset_loses_only_itself(fast_store):
    store, rows = fast_store, make_rows()
    header, *lines = encoded(fast_store, rows)
    torn = lines[TORN]
    checked = 0
    for cut in range(len(torn)):
        store.path.write_bytes(header + b"".join(lines[:TORN]) + torn[:cut])
        for row in rows[TORN + 1 :]:  # later runs append after the torn line
            store.append(row)
        # cut just before its line break, the row is whole: it counts
        whole = cut == len(torn) - 1
        checked += check(store, rows, set() if whole else {TORN})
        damaged = [] if whole or cut == 0 else [TORN + 2]  # 1-based, after header
        assert store.last_read.damaged == damaged
    assert cut + 1 == len(torn) > 300
    assert checked == 5 * len(torn) + 1
    print(f"offsets tried: {len(torn)}, rows checked: {checked}")


def raw_line(values: list[str]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values)
    return buf.getvalue().encode()


def garbage_cases(header: bytes, valid: bytes) -> dict[str, bytes]:
    rng = random.Random(9)
    wide = next(csv.reader([valid.decode()]))
    return {
        # the fragment: an unterminated quote and no line break
        "quote left open": b'...,"RuntimeError: a, b',
        "quote left open, then a line break": b'x,"unterminated\n',
        "a lone quote": b'"',
        "stray quote inside a field": b'a,b"c,ok\n',
        "1 KiB of random bytes": rng.randbytes(1024),
        "invalid UTF-8 and NULs": b"\xff\xfe\x00\x00garbage\xc3\x28\x00,ok",
        "NULs only": b"\x00" * 64 + b"\n",
        "a 200 KiB field": b"a," + b"x" * (200 * 1024) + b",ok\n",
        "a bare carriage return": b"a,b\rc,ok\n",
        "blank lines": b"\n\n\r\n",
        "a row with one field too many": valid[:-1] + b",ok\n",
        "a row with one field too few": raw_line(wide[:-2] + ["ok"]),
        "a row with an unknown status": raw_line(wide[:-1] + ["done"]),
        "the header again": header,
        "a row cut in the middle, no line break": valid[: len(valid) // 2],
    }


def test_garbage_between_rows_loses_only_itself(fast_store):
    store, rows = fast_store, make_rows()
    header, *lines = encoded(fast_store, rows)
    cases = garbage_cases(header, lines[0])
    checked = 0
    for name, garbage in cases.items():
        store.path.write_bytes(header + b"".join(lines[:3]) + garbage)
        for row in rows[3:]:
            store.append(row)
        checked += check(store, rows, set())
        if name != "blank lines":
            assert store.last_read.damaged, name
            assert "unreadable line" in store.read_warning()
    assert checked == 6 * len(cases)
    print(f"garbage cases: {len(cases)}, rows checked: {checked}")


def test_a_valid_row_with_a_200_kib_field_is_read(fast_store):
    """An older writer did not cap fields: such a row is still a row."""
    store, rows = fast_store, make_rows()
    header, *lines = encoded(fast_store, rows[:1])
    big = rows[0].as_dict() | {"run": 1, "error": "E" * (200 * 1024)}
    store.path.write_bytes(header + lines[0] + raw_line([big[c] for c in COLUMNS]))
    store.append(rows[2])
    frame = store.read()
    assert frame.run.tolist() == [0, 1, 2]
    assert len(frame.error[1]) == 200 * 1024 and not store.last_read.damaged


def test_the_writer_keeps_one_row_on_one_line(fast_store):
    row = make_rows()[0]
    row.error = "a\r\nb\rc\nd" + "z" * (100 * 1024)
    row.experiment = "name with a\nbreak"
    fast_store.append(row)
    data = fast_store.path.read_bytes()
    assert data.count(b"\n") == 2 and b"\r" not in data
    back = fast_store.read()
    assert back.experiment[0] == "name with a break"
    assert back.error[0].startswith("a b c d") and back.error[0].endswith(" [cut]")
    assert len(back.error[0]) == 64 * 1024


def test_an_undecodable_character_in_a_field_does_not_cost_the_row(fast_store):
    row = make_rows()[0]
    row.error = "OSError: cannot open /data/\udcff.txt"  # a surrogate-escaped path
    fast_store.append(row)
    assert fast_store.read().error[0] == "OSError: cannot open /data/\\udcff.txt"
