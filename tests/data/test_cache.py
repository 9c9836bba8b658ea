"""Nothing poolbench reads from data.root may run code (issue 9, §4).

Each test plants a pickle whose unpickling would create a marker file, where
poolbench looks for its own cache, and checks that loading neither runs it
nor fails: the cache is rebuilt from its parameters instead.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time

import torch

from poolbench.data import synthetic
from poolbench.data.cache import load_or_generate
from poolbench.data.expressiveness import load_expwl1
from poolbench.data.synthetic import load_synthetic


class Planted:
    """Unpickling this calls os.system: the attack a shared data folder allows."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def plant(path, marker) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save([Planted(marker)], path)  # a pickle, as the old cache wrote


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_making_a_set_is_said_on_a_terminal_once(tmp_path, monkeypatch):
    path = tmp_path / "cache" / "graphs.pt"
    one = [synthetic.Data(x=torch.ones(2, 1), edge_index=torch.tensor([[0], [1]]))]
    piped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", piped)
    load_or_generate(tmp_path / "piped.pt", lambda: one, "TOY")
    assert piped.getvalue() == ""  # a log keeps to results and errors
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    load_or_generate(path, lambda: one, "TOY")
    said = terminal.getvalue().splitlines()
    assert said[0] == f"poolbench: making TOY once, cached in {path}"
    assert said[1].startswith("poolbench: TOY: 1 graphs in ")
    load_or_generate(path, lambda: one, "TOY")  # from the cache: silent
    assert len(terminal.getvalue().splitlines()) == 2


def test_planted_cache_file_is_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "cache" / "graphs.pt"
    plant(path, marker)
    made = []

    def generate():
        made.append(1)
        return [synthetic.Data(x=torch.ones(2, 1), edge_index=torch.tensor([[0], [1]]))]

    graphs = load_or_generate(path, generate)
    assert not marker.exists()
    assert made == [1] and graphs[0].num_nodes == 2
    # the planted file was replaced by a tensors-only one that loads safely
    again = load_or_generate(path, lambda: (_ for _ in ()).throw(AssertionError))
    assert torch.equal(again[0].x, graphs[0].x)
    assert torch.equal(again[0].edge_index, graphs[0].edge_index)


def test_round_trip_keeps_every_attribute(tmp_path):
    path = tmp_path / "g.pt"
    g = synthetic.Data(
        x=torch.randn(3, 2),
        edge_index=torch.tensor([[0, 1], [1, 2]]),
        y=torch.tensor([1]),
        pos=torch.randn(3, 2),
    )
    load_or_generate(path, lambda: [g, g])
    back = load_or_generate(path, lambda: [])
    assert len(back) == 2
    for key in ("x", "edge_index", "y", "pos"):
        assert torch.equal(back[1][key], g[key])


def test_synthetic_loader_ignores_a_planted_pickle(tmp_path):
    first = load_synthetic("easy", str(tmp_path), seed=5)
    (path,) = (tmp_path / "synthetic").glob("easy_small_seed5_*.pt")
    marker = tmp_path / "pwned"
    plant(path, marker)
    again = load_synthetic("easy", str(tmp_path), seed=5)
    assert not marker.exists()
    assert again.fingerprint == first.fingerprint


def test_expressiveness_loader_ignores_a_planted_pickle(tmp_path):
    first = load_expwl1(str(tmp_path), pairs=3)
    (path,) = (tmp_path / "expressiveness").glob("expwl1_seed0_*.pt")
    marker = tmp_path / "pwned"
    plant(path, marker)
    again = load_expwl1(str(tmp_path), pairs=3)
    assert not marker.exists()
    assert again.fingerprint == first.fingerprint


class PlantedClass:
    """Unpickling builds a subprocess.Popen: a class global, which PyG's loader
    answers by retrying torch.load with weights_only=False (it runs)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (subprocess.Popen, (["touch", self.marker],))


def test_a_planted_tu_processed_file_is_rebuilt_not_run(mirror, tmp_path):
    """PyG falls back to an unrestricted torch.load when a weights-only load
    fails; poolbench's TU loader rebuilds the processed file instead."""
    from poolbench.data.tu import load_tu

    first = load_tu("MUTAG", str(tmp_path), str(mirror))
    processed = tmp_path / "TUDataset" / "MUTAG" / "processed" / "data.pt"
    assert processed.is_file()
    marker = tmp_path / "pwned"
    torch.save(PlantedClass(marker), processed)
    again = load_tu("MUTAG", str(tmp_path), str(mirror))
    time.sleep(0.2)  # a Popen would have touched the file by now
    assert not marker.exists()
    assert again.fingerprint == first.fingerprint


def test_planted_pre_transform_and_pre_filter_files_are_not_run(mirror, tmp_path):
    """PyG unpickles ``processed/pre_transform.pt`` and ``pre_filter.pt`` with a
    plain ``torch.load(..., weights_only=False)`` of its own (not through the
    loader the test above covers); a planted pickle there ran at every load."""
    from poolbench.data.tu import load_tu

    first = load_tu("MUTAG", str(tmp_path), str(mirror))
    processed = tmp_path / "TUDataset" / "MUTAG" / "processed"
    for name in ("pre_transform.pt", "pre_filter.pt"):
        assert (processed / name).is_file()
        marker = tmp_path / f"pwned_{name}"
        torch.save(Planted(marker), processed / name)
        again = load_tu("MUTAG", str(tmp_path), str(mirror))
        assert not marker.exists()
        assert again.fingerprint == first.fingerprint
    assert torch.load is torch.serialization.load  # the loader puts it back
