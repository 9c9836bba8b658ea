"""The store's promises through the real CLI: damage hides nothing, a full disk
stops with one line and no fragment, and edited data files are runs to redo."""

from __future__ import annotations

import os
import random
import shlex
import shutil
import subprocess
import sys

from poolbench.results.lines import encode_line
from poolbench.results.row import COLUMNS
from tests.cli_helpers import QUICK, rows, run_cli

HOLDOUT = ["protocol=holdout", *QUICK]


def test_damage_in_the_store_hides_no_row_and_forces_no_rerun(cli):
    assert cli("train", "pooler=topk", "dataset=mutag", *HOLDOUT).returncode == 0
    store = cli.cwd / "results" / "results.csv"
    with open(store, "ab") as f:  # the fragment: an open quote, no newline
        f.write(b'MUTAG-x,MUTAG,x,m,holdout,0,0,1,abc,"RuntimeError: a, b')
    out = cli("train", "pooler=sag", "dataset=mutag", *HOLDOUT)
    assert out.returncode == 0, out.stderr
    assert "skipped 1 unreadable line(s) (line 3" in out.stderr
    assert sorted(rows(cli.cwd).pooler) == ["sag", "topk"]  # the new row is seen
    again = cli("train", "pooler=sag", "dataset=mutag", *HOLDOUT)
    assert again.returncode == 0 and "0 of 1 runs to do" in again.stderr

    with open(store, "ab") as f:
        f.write(random.Random(1).randbytes(1024))  # undecodable bytes
        f.write(b"\nx," + b"y" * (200 * 1024) + b",ok\n")  # a field over 128 KiB
    table = cli("table", "--no-figures")
    assert table.returncode == 0, table.stderr
    assert "Traceback" not in table.stderr and "unreadable line" in table.stderr
    cells = (cli.cwd / "results" / "tables" / "accuracy-holdout.csv").read_text()
    assert "\nsag," in cells and "\ntopk," in cells

    data = store.read_bytes()
    store.write_bytes(b"experiment,datas" + data[data.index(b"\n") :])
    table = cli("table", "--no-figures")
    assert table.returncode == 0, table.stderr
    assert "header line is damaged" in table.stderr
    assert "2 runs from" in table.stdout


def test_a_full_disk_stops_with_one_line_and_leaves_the_store_as_it_was(cli):
    assert cli("train", "pooler=topk", "dataset=mutag", *HOLDOUT).returncode == 0
    store = cli.cwd / "results" / "results.csv"
    # pad the store past every other file the run writes (the processed data
    # is ~340 KB), so that only the row's append crosses the size limit
    first = rows(cli.cwd).astype(str).iloc[0].to_dict()
    filler = b"".join(
        encode_line([{**first, "run": str(i)}[c] for c in COLUMNS])
        for i in range(1, 3000)
    )
    with open(store, "ab") as f:
        f.write(filler)
    before = store.read_bytes()
    assert len(before) > 10**6
    out = cli(
        "train",
        "pooler=sag",
        "dataset=mutag",
        *HOLDOUT,
        max_file_bytes=len(before) + 100,  # the row's line is ~450 bytes
    )
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr
    errors = [line for line in out.stderr.splitlines() if "error" in line]
    assert len(errors) == 1, out.stderr
    assert errors[0].startswith("poolbench: error: could not write a row to ")
    assert "File too large (EFBIG); the file is unchanged" in errors[0]
    assert "Not recorded: MUTAG-sag fold 0 run 0 (ok, test_acc 0." in errors[0]
    assert store.read_bytes() == before  # no fragment left behind
    after = cli("train", "pooler=sag", "dataset=mutag", *HOLDOUT)
    assert after.returncode == 0 and "1 of 1 runs to do" in after.stderr


def test_edited_data_files_are_runs_to_do_again(tmp_path, mirror):
    """The data fingerprint is part of a run's identity (no mirror: the files
    in data.root are the data)."""
    data_root = tmp_path / "data"
    raw = data_root / "TUDataset" / "MUTAG" / "raw"
    shutil.copytree(mirror / "TUDataset" / "MUTAG" / "raw", raw)
    args = ["train", "pooler=topk", "dataset=mutag", *HOLDOUT]
    env = {"POOLBENCH_DATA_MIRROR": ""}
    first = run_cli(args, tmp_path, data_root, None, env=env)
    assert first.returncode == 0, first.stderr
    assert "1 of 1 runs to do" in first.stderr

    labels = raw / "MUTAG_node_labels.txt"
    values = labels.read_text().split("\n")
    values[0] = "1" if values[0].strip() != "1" else "0"  # one atom changes type
    labels.write_text("\n".join(values))
    shutil.rmtree(raw.parent / "processed")  # PyG does not notice raw edits
    second = run_cli(args, tmp_path, data_root, None, env=env)
    assert second.returncode == 0, second.stderr
    assert "1 of 1 runs to do" in second.stderr
    assert "made on other data" in second.stderr
    frame = rows(tmp_path)
    assert len(frame) == 2 and frame.data_fingerprint.nunique() == 2
    assert frame.config_hash.nunique() == 1  # the config hash stays the same
    summaries = (tmp_path / "results" / "summaries.jsonl").read_text().splitlines()
    assert len(summaries) == 2  # one per (config, data)


def test_a_full_disk_under_table_leaves_no_truncated_file(cli):
    assert cli("train", "pooler=topk", "dataset=mutag", *HOLDOUT).returncode == 0
    # the small text tables fit under the limit; the figures (tens of KB) do not
    out = cli("table", max_file_bytes=8_000)
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr
    (error,) = [x for x in out.stderr.splitlines() if "error" in x]
    assert error.startswith("poolbench: error: could not write the tables: ")
    assert "(EFBIG)" in error
    made = [p for p in (cli.cwd / "results").rglob("*") if p.is_file()]
    assert not [p for p in made if p.name.endswith(".tmp")]
    for png in (p for p in made if p.suffix == ".png"):
        assert png.read_bytes().endswith(b"IEND\xaeB`\x82")  # a whole image
    summary = cli.cwd / "results" / "tables" / "summary.csv"
    assert summary.read_text().count("\n") == 2  # header and the one cell, whole


def test_a_disk_without_room_for_a_run_is_refused_before_it_starts(cli):
    """Hydra's job files came first and failed with a traceback; the
    pre-flight now writes some bytes, not an empty file."""
    out = cli("train", "pooler=topk", "dataset=mutag", *HOLDOUT, max_file_bytes=16_000)
    assert out.returncode == 2, out.stderr
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("poolbench: error: results.dir=results is not writable")
    assert line.endswith("give a writable directory, or free space")
    assert not list(cli.cwd.rglob(".hydra")) and not list(cli.cwd.rglob("*.csv"))


def test_tables_printed_to_a_full_or_closed_stdout(cli):
    """Printing the tables to a full device was a traceback; a reader that
    stops early (| head) must not be reported as an error."""
    assert cli("train", "pooler=topk", "dataset=mutag", *HOLDOUT).returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    command = [sys.executable, "-m", "poolbench", "table", "--no-figures"]
    with open("/dev/full", "w") as full:
        out = subprocess.run(
            command, cwd=cli.cwd, env=env, stdout=full, stderr=subprocess.PIPE,
            text=True, timeout=300,
        )  # fmt: skip
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("poolbench: error: could not print the tables: ")
    piped = subprocess.run(
        f"{shlex.join(command)} | head -c 10", shell=True, cwd=cli.cwd, env=env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert "Traceback" not in piped.stderr and piped.stderr.strip() == ""
