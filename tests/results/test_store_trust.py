"""Rows the store must neither hide nor invent (an adversarial audit's cases).

- a failed row written after an ok row of the same run (a stopped second
  writer) must not hide the ok result that resume counts as done;
- a row whose number fields are not numbers, whose key is blank, whose metric
  this poolbench does not know, or an ok row without its score, is a damaged
  line (reported, redone), never read as fold -1 or a NaN score;
- a header of another version, with a column after ``status`` or a column
  renamed, is never read positionally nor rewritten;
- a symlinked results.csv stays a link through a migration;
- JSON nested past the parser's depth is a damaged file, not a traceback.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from poolbench.errors import StoreWriteError
from poolbench.results.configs import load_identities
from poolbench.results.lines import encode_line
from poolbench.results.row import COLUMNS, ResultRow
from poolbench.results.store import ResultsStore

V01 = Path(__file__).parent / "data" / "results-v0.1.csv"


def row(run=0, status="ok", acc=0.5, fold=0) -> ResultRow:
    return ResultRow(
        experiment="E",
        dataset="D",
        pooler="p",
        model="m",
        protocol="cv2",
        protocol_folds=2,
        protocol_runs=2,
        fold=fold,
        run=run,
        seed=1,
        config_hash="c0ffee",
        test_acc=acc,
        data_fingerprint="fp",
        status=status,
    )


def line(**changes) -> bytes:
    values = {k: str(v) for k, v in row().as_dict().items()} | changes
    return encode_line([values[c] for c in COLUMNS])


def test_a_failure_after_an_ok_row_of_the_same_run_does_not_hide_it(tmp_path):
    store = ResultsStore(tmp_path)
    store.append(row(0, acc=0.75))
    store.append(row(1, status="failed", acc=float("nan")))
    store.append(row(0, status="failed", acc=float("nan")))  # a stopped duplicate
    store.append(row(1, acc=0.25))  # a rerun of a failure still replaces it
    latest = store.latest()
    assert latest[["run", "status", "test_acc"]].values.tolist() == [
        [0, "ok", 0.75],
        [1, "ok", 0.25],
    ]
    assert store.completed() == {("c0ffee", 0, 0), ("c0ffee", 0, 1)}


@pytest.mark.parametrize(
    "changes",
    [
        {"fold": "x"},
        {"run": "1.7"},
        {"test_acc": "0.6#@!"},
        {"config_hash": ""},
        {"metric": "bogus"},
        {"test_acc": ""},  # an ok row without its score
        {"test_acc": "nan"},  # ... or with one the mean leaves out
        {"test_acc": "inf"},
    ],
    ids=lambda c: ",".join(f"{k}={v!r}" for k, v in c.items()),
)
def test_a_row_with_a_field_of_the_wrong_kind_is_a_damaged_line(tmp_path, changes):
    store = ResultsStore(tmp_path)
    store.append(row(0))
    with open(store.path, "ab") as f:
        f.write(line(**({"run": "1"} | changes)))
    store.append(row(0, fold=1))
    frame = store.read()
    assert frame[["fold", "run"]].values.tolist() == [[0, 0], [1, 0]]
    assert "skipped 1 unreadable line(s) (line 3" in store.read_warning()
    assert ("c0ffee", 0, 1) not in store.completed()  # so resume redoes it
    assert len(store.latest()) == 2


def test_a_failed_row_needs_no_score(tmp_path):
    store = ResultsStore(tmp_path)
    with open(store.path, "ab") as f:
        f.write(encode_line(COLUMNS) + line(status="failed", test_acc=""))
    assert store.read().status.tolist() == ["failed"] and not store.read_warning()


def test_a_header_with_a_column_after_status_is_another_versions(tmp_path):
    store = ResultsStore(tmp_path)
    store.append(row(0))
    store.append(row(1))
    head, rest = store.path.read_bytes().split(b"\n", 1)
    lines = [x + b",H100" for x in rest.splitlines()]
    store.path.write_bytes(b"\n".join([head + b",gpu", *lines]) + b"\n")
    before = store.path.read_bytes()
    frame = store.read()  # read by its own names
    assert frame.run.tolist() == [0, 1] and store.last_read.header_state == "unknown"
    with pytest.raises(StoreWriteError, match="another version"):
        store.append(row(2))
    assert store.path.read_bytes() == before  # its header was deleted before


@pytest.mark.parametrize(
    "edit",
    [
        (b"peak_mem_mb", b"gpu_bytes"),
        (b"peak_mem_mb", b"peak_mem_gb"),  # one letter: a rename, not damage
        (b"train_rmse,val_rmse,test_rmse", b"test_rmse,val_rmse,train_rmse"),
    ],
    ids=["renamed", "one letter", "swapped"],
)
def test_a_renamed_column_is_not_taken_for_a_damaged_name(tmp_path, edit):
    store = ResultsStore(tmp_path)
    store.append(row(0))
    data = store.path.read_bytes()
    store.path.write_bytes(data.replace(*edit, 1))
    before = store.path.read_bytes()
    assert store.read().run.tolist() == [0]
    assert store.last_read.header_state == "unknown"
    # said, with what cannot be shown: the table would print blanks silently
    warning = store.read_warning()
    assert "its header is not this version's" in warning
    if set(edit[0].split(b",")) != set(edit[1].split(b",")):  # a rename
        assert f"columns {edit[0].decode()} read as blank" in warning
    with pytest.raises(StoreWriteError, match="another version"):
        store.append(row(1))
    assert store.path.read_bytes() == before


def test_a_symlinked_store_stays_a_link_through_a_migration(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shutil.copy(V01, shared / "results.csv")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "results.csv").symlink_to(shared / "results.csv")
    store = ResultsStore(mine)
    store.append(row(0))  # migrates the old header first
    assert (mine / "results.csv").is_symlink()
    assert len(ResultsStore(shared).read()) == 4  # three old rows and the new one
    assert store.lock_file() == shared / ".results.csv.lock"


def test_json_nested_past_the_parsers_depth_is_a_damaged_file(tmp_path):
    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "abc.json").write_text("[" * 200_000)
    (folder / "def.json").write_text(json.dumps({"pooler": {"name": "topk"}}))
    assert load_identities(tmp_path, ["abc", "def"]) == {"def": {"pooler.name": "topk"}}
    store = ResultsStore(tmp_path)
    (tmp_path / "summaries.jsonl").write_text("[" * 200_000 + "\n")
    store.append_summary({"config_hash": "h", "data_fingerprint": "f"})
    kept = (tmp_path / "summaries.jsonl").read_text().splitlines()
    assert len(kept) == 2 and kept[0] == "[" * 200_000  # kept as it was
