import pytest
import torch

from poolbench.data.tu import load_tu
from poolbench.errors import PoolbenchError


def test_mutag_loads_from_the_mirror_with_label_features(mutag, data_root):
    assert len(mutag) == 188 and mutag.num_classes == 2
    assert mutag.num_features == 7
    assert torch.bincount(mutag.labels).tolist() == [63, 125]
    assert (data_root / "TUDataset" / "MUTAG" / "raw" / "MUTAG_A.txt").is_file()
    assert all(g.x.sum(1).eq(1).all() for g in mutag.graphs)  # one-hot labels


def test_missing_dataset_error_names_both_fixes(tmp_path):
    empty_mirror = tmp_path / "mirror"
    empty_mirror.mkdir()
    with pytest.raises(PoolbenchError) as err:
        load_tu("NOPE", str(tmp_path / "root"), str(empty_mirror))
    message = str(err.value)
    assert "data.mirror" in message and "download" in message
    assert "\n" not in message
    assert not (tmp_path / "root" / "TUDataset" / "NOPE").exists()


def test_social_sets_get_a_degree_one_hot(mirror, data_root):
    ds = load_tu(
        "IMDB-BINARY", str(data_root), str(mirror), features="degree", max_degree=10
    )
    assert ds.num_features == 11 and ds.num_classes == 2
    g = ds.graphs[0]
    deg = torch.bincount(g.edge_index[0], minlength=g.num_nodes).clamp(max=10)
    assert torch.equal(g.x.argmax(1), deg)


def test_constant_features_and_enzymes_attributes(mirror, data_root):
    ds = load_tu("PTC_MR", str(data_root), str(mirror), features="constant")
    assert ds.num_features == 1
    enzymes = load_tu("ENZYMES", str(data_root), str(mirror), use_node_attr=True)
    assert enzymes.num_features == 21 and enzymes.num_classes == 6


def test_fingerprint_changes_with_the_feature_transform(mirror, data_root):
    a = load_tu("PTC_MR", str(data_root), str(mirror), features="constant")
    b = load_tu("PTC_MR", str(data_root), str(mirror))
    assert a.fingerprint != b.fingerprint


def test_unknown_feature_transform_is_refused(mirror, data_root):
    with pytest.raises(PoolbenchError, match="dataset.features"):
        load_tu("MUTAG", str(data_root), str(mirror), features="pagerank")
