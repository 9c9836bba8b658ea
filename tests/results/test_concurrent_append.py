"""Eight real processes appending to one store at once lose and mangle nothing."""

from __future__ import annotations

import multiprocessing
import shutil
from pathlib import Path

from poolbench.results.row import COLUMNS, ResultRow
from poolbench.results.store import ResultsStore

WRITERS = 8
ROWS_EACH = 250


def _row(writer: int, i: int) -> ResultRow:
    return ResultRow(
        experiment=f"writer{writer}",
        dataset="D",
        pooler="p",
        model="m",
        protocol="cv10",
        fold=i % 10,
        run=i,
        seed=writer * 100_000 + i,
        config_hash=f"h{writer}",
        test_acc=writer + i / 1000,
        # long, quoted text with a line break (stored as a space, one line per
        # row): a torn or interleaved write shows up here
        error=f'"quoted", comma\nline two of writer {writer} row {i} ' + "x" * 500,
        status="failed" if i % 7 == 0 else "ok",
    )


def _append_many(directory: str, writer: int, start, rows=ROWS_EACH) -> None:
    store = ResultsStore(directory)
    start.wait()  # all writers go at once
    for i in range(rows):
        store.append(_row(writer, i))


def test_eight_processes_appending_at_once_lose_nothing(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [
        ctx.Process(target=_append_many, args=(str(tmp_path), w, start))
        for w in range(WRITERS)
    ]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    frame = ResultsStore(tmp_path).read()
    assert len(frame) == WRITERS * ROWS_EACH
    got = {(r.config_hash, r.run): r for r in frame.itertuples()}
    assert len(got) == WRITERS * ROWS_EACH
    for w in range(WRITERS):
        for i in range(ROWS_EACH):
            expected = _row(w, i)
            row = got[(f"h{w}", i)]
            assert row.seed == expected.seed and row.test_acc == expected.test_acc
            assert row.error == expected.error.replace("\n", " ")
            assert row.status == expected.status
    # exactly one header: no writer re-created the file under another's feet
    text = (tmp_path / "results.csv").read_text()
    assert text.count("experiment,dataset,pooler") == 1


def test_writers_racing_on_an_old_schema_file_migrate_it_once(tmp_path):
    """The first append migrates the file under the lock; the others see the
    current header and append: nothing is lost or written twice."""
    shutil.copy(Path(__file__).parent / "data" / "results-v0.1.csv", tmp_path)
    (tmp_path / "results-v0.1.csv").rename(tmp_path / "results.csv")
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [
        ctx.Process(target=_append_many, args=(str(tmp_path), w, start, 40))
        for w in range(4)
    ]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    frame = ResultsStore(tmp_path).read()
    assert (
        len(frame) == 3 + 4 * 40 and not frame.duplicated(["config_hash", "run"]).any()
    )
    assert frame.pooler.tolist()[:3] == ["topk", "mincut", "mincut"]
    lines = (tmp_path / "results.csv").read_text().splitlines()
    assert lines[0].split(",") == COLUMNS and len(lines) == 1 + 3 + 4 * 40
