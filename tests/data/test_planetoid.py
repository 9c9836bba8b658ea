"""Planetoid through the mirror, read without unpickling anything but data."""

from __future__ import annotations

import os
import pickle
import shutil

import pytest
import torch

from poolbench.data.planetoid import class_count, load_planetoid, node_count
from poolbench.errors import PoolbenchError


@pytest.mark.parametrize("name", ["cora", "citeseer"])
def test_equals_pygs_planetoid(name, mirror, tmp_path):
    from torch_geometric.datasets import Planetoid

    ours = load_planetoid(name, str(tmp_path / "ours"), str(mirror), False)
    folder = ours.name
    shutil.copytree(mirror / "Planetoid" / folder, tmp_path / "pyg" / folder)
    ref = Planetoid(str(tmp_path / "pyg"), folder)[0]  # unpickles: trusted here
    g = ours.graph
    assert torch.equal(g.x, ref.x) and torch.equal(g.y, ref.y)
    assert set(map(tuple, g.edge_index.t().tolist())) == set(
        map(tuple, ref.edge_index.t().tolist())
    )
    assert g.edge_index.size(1) == ref.edge_index.size(1)
    split = ours.public_split
    assert split.train == ref.train_mask.nonzero().view(-1).tolist()
    assert split.val == ref.val_mask.nonzero().view(-1).tolist()
    assert split.test == ref.test_mask.nonzero().view(-1).tolist()
    # the count task=community checks K against before loading
    assert node_count(name) == g.num_nodes == ref.num_nodes
    assert class_count(name) == int(ref.y.max()) + 1  # what `list datasets` shows
    assert load_planetoid.feature_count(name) == g.x.size(1) == ref.x.size(1)


def test_features_are_row_normalised_by_default(mirror, tmp_path):
    d = load_planetoid("cora", str(tmp_path), str(mirror))
    sums = d.graph.x.sum(1)
    assert torch.allclose(sums[sums > 0], torch.ones(int((sums > 0).sum())))


class Planted:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_planted_pickle_is_refused_not_run(mirror, tmp_path):
    fake = tmp_path / "mirror" / "Planetoid" / "Cora" / "raw"
    shutil.copytree(mirror / "Planetoid" / "Cora" / "raw", fake)
    marker = tmp_path / "pwned"
    (fake / "ind.cora.graph").write_bytes(pickle.dumps(Planted(marker)))
    with pytest.raises(PoolbenchError, match="ind.cora.graph.*refused global"):
        load_planetoid("cora", str(tmp_path / "root"), str(tmp_path / "mirror"))
    assert not marker.exists()


def test_a_set_missing_from_the_mirror_is_one_line(tmp_path):
    with pytest.raises(PoolbenchError, match="not in the mirror"):
        load_planetoid("cora", str(tmp_path), str(tmp_path))
