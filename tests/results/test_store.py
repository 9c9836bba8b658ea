import math

from poolbench.results.row import COLUMNS, ResultRow
from poolbench.results.store import ResultsStore


def row(fold=0, run=0, status="ok", acc=0.5, h="abc"):
    return ResultRow(
        experiment="e",
        dataset="D",
        pooler="p",
        model="m",
        protocol="cv10",
        fold=fold,
        run=run,
        seed=1,
        config_hash=h,
        test_acc=acc,
        status=status,
        error="boom, with a comma\nand a newline" if status != "ok" else "",
    )


def test_rows_round_trip_with_types(tmp_path):
    store = ResultsStore(tmp_path)
    store.append(row(0, 0, acc=0.25))
    store.append(row(0, 1, status="failed"))
    frame = store.read()
    assert list(frame.columns) == COLUMNS
    assert frame.test_acc.tolist()[0] == 0.25 and frame.fold.dtype.kind == "i"
    # one physical line per row: a line break inside a field is stored as a space
    assert frame.error.tolist()[1] == "boom, with a comma and a newline"
    assert store.path.read_bytes().count(b"\n") == 3
    assert math.isnan(frame.val_acc[0])


def test_a_torn_last_line_is_never_read_and_the_next_append_is_clean(tmp_path):
    store = ResultsStore(tmp_path)
    store.append(row(0, 0))
    full = store.path.read_bytes()
    store.append(row(0, 1))
    torn = store.path.read_bytes()[: len(full) + 40]  # a writer killed mid-line
    store.path.write_bytes(torn)
    assert len(store.read()) == 1
    store.append(row(0, 2))
    frame = store.read()
    assert frame.run.tolist() == [0, 2]


def test_completed_counts_ok_runs_and_latest_prefers_the_rerun(tmp_path):
    store = ResultsStore(tmp_path)
    store.append(row(0, 0, status="nan"))
    store.append(row(0, 1))
    assert store.completed() == {("abc", 0, 1)}
    store.append(row(0, 0, acc=0.9))
    latest = store.latest()
    assert len(latest) == 2 and set(latest.status) == {"ok"}
    assert store.completed() == {("abc", 0, 0), ("abc", 0, 1)}
