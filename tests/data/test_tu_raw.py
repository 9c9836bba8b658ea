"""TU raw files: checked line by line, kept whole, refreshed from the mirror."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from poolbench.data.tu import load_tu
from poolbench.data.tu_raw import MANIFEST, read_table
from poolbench.errors import PoolbenchError
from tests.data.tu_files import ToyGraph, toy_graphs, write_tu


@pytest.mark.parametrize(
    "text, kind, message",
    [
        ("1, 2\n3\n", int, "line 2: expected 2 comma-separated values, got '3'"),
        ("1, 2\n3,\n", int, "line 2: expected 2 comma-separated values, got '3,'"),
        ("1, 2\n\n3, 4\n", int, "line 2: blank line"),
        ("1, 2\n3, 4.5\n", int, "line 2: '4.5' is not an integer"),
        ("1, 2\n3, x\n", int, "line 2: 'x' is not an integer"),
        ("0.5\nnan\n", float, "line 2: 'nan' is not a finite number"),
        ("1, 2\n3, 4\xe9\n", int, "line 2: not plain text"),
    ],
)
def test_a_bad_line_is_named(tmp_path, text, kind, message):
    path = tmp_path / "X_A.txt"
    path.write_bytes(text.encode("latin-1"))
    width = 2 if "," in text.splitlines()[0] else 1
    with pytest.raises(PoolbenchError, match="X_A.txt") as err:
        read_table(path, path, kind, width)
    assert message in str(err.value)


def test_good_tables_read_the_same_as_written(tmp_path):
    path = tmp_path / "X_A.txt"
    path.write_text("1, 2\n 3,4\r\n-5, 6")  # spaces, CRLF, no final newline
    assert read_table(path, path, int, 2).tolist() == [[1, 2], [3, 4], [-5, 6]]
    path.write_text(" 11.000000, 15.887\n2.5e-3, -1\n")
    assert read_table(path, path, float).tolist() == [[11.0, 15.887], [0.0025, -1.0]]


def test_a_trailing_edgeless_graph_and_a_missing_newline_are_kept(tmp_path):
    """PyG drops trailing graphs with no edges, and the last line of a file
    that does not end in a newline: both would lose the one-node graph 41."""
    graphs = toy_graphs(40) + [ToyGraph(1, [], 2, [1], [0.0])]
    raw = write_tu(tmp_path / "mirror" / "TOY" / "raw", "TOY", graphs)
    for part in ("graph_indicator", "graph_labels", "node_labels"):
        path = raw / f"TOY_{part}.txt"
        path.write_text(path.read_text().rstrip("\n"))
    ds = load_tu("TOY", str(tmp_path / "root"), str(tmp_path / "mirror"))
    assert len(ds) == 41
    last = ds.graphs[-1]
    assert last.num_nodes == 1 and last.edge_index.shape == (2, 0)
    assert torch.equal(last.x, torch.tensor([[0.0, 1.0, 0.0]]))  # node label 1
    assert ds.labels.tolist() == [g.label - 1 for g in graphs]
    assert [g.num_nodes for g in ds.graphs] == [g.nodes for g in graphs]


def test_features_follow_what_the_files_hold(tmp_path):
    mirror = tmp_path / "mirror"
    write_tu(mirror / "LAB" / "raw", "LAB", toy_graphs())
    write_tu(mirror / "ATT" / "raw", "ATT", toy_graphs(), node_attributes=True)
    write_tu(mirror / "BARE" / "raw", "BARE", toy_graphs(), node_labels=False)
    root, kw = str(tmp_path / "root"), {"features": "auto", "use_node_attr": None}
    labels = load_tu("LAB", root, str(mirror), **kw)
    assert labels.num_features == 3 and labels.params["use_node_attr"] is False
    assert torch.equal(labels.graphs[0].x.argmax(1), torch.tensor([0, 1, 2, 0]))
    both = load_tu("ATT", root, str(mirror), **kw)
    assert both.num_features == 4 and both.params["use_node_attr"] is True
    assert both.graphs[0].x[:, 0].tolist() == [0.0, 0.5, 1.0, 1.5]  # attributes first
    bare = load_tu("BARE", root, str(mirror), **kw, max_degree=3)
    assert bare.num_features == 4 and bare.params["features"] == "degree"
    assert bare.graphs[1].x.argmax(1).tolist() == [2, 2, 2, 2, 2]  # a 5-cycle
    with pytest.raises(PoolbenchError, match="dataset.features=degree"):
        load_tu("BARE", root, str(mirror))  # node_labels asked for, none there


def test_a_repaired_mirror_replaces_the_stale_copy(tmp_path):
    mirror, root = tmp_path / "mirror", str(tmp_path / "root")
    raw = write_tu(mirror / "TOY" / "raw", "TOY", toy_graphs())
    labels = raw / "TOY_graph_labels.txt"
    good = labels.read_text()
    labels.write_text(good.replace("1\n", "x\n", 1))
    with pytest.raises(PoolbenchError) as err:
        load_tu("TOY", root, str(mirror))
    assert f"{labels} line 1: 'x' is not an integer" in str(err.value)
    labels.write_text(good)
    first = load_tu("TOY", root, str(mirror))
    assert first.labels.tolist()[:2] == [0, 1]
    # the mirror changes after PyG processed the copy: copy and processing redone
    labels.write_text("12\n" + good.split("\n", 1)[1])
    again = load_tu("TOY", root, str(mirror))
    assert again.labels.tolist()[:2] == [2, 1]
    assert again.fingerprint != first.fingerprint
    manifest = json.loads(
        (tmp_path / "root" / "TUDataset" / "TOY" / MANIFEST).read_text()
    )
    assert manifest["source"] == str(raw)


def test_an_edited_copy_in_the_data_root_is_refreshed(tmp_path):
    mirror, root = tmp_path / "mirror", tmp_path / "root"
    write_tu(mirror / "TOY" / "raw", "TOY", toy_graphs())
    first = load_tu("TOY", str(root), str(mirror))
    home = root / "TUDataset" / "TOY"
    (home / "raw" / "TOY_graph_labels.txt").write_text("01\n" * 40)  # one class
    shutil.rmtree(home / "processed")  # so PyG would read the edited copy
    assert load_tu("TOY", str(root), str(mirror)).fingerprint == first.fingerprint
