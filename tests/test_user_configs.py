"""A user's own TU dataset and YAMLs, without editing poolbench (real CLI)."""

from __future__ import annotations

from tests.cli_helpers import rows, run_cli
from tests.data.tu_files import toy_graphs, write_tu

EPOCHS = ["trainer.max_epochs=2", "trainer.patience=2"]


def test_any_tu_dataset_by_name(tmp_path):
    mirror = tmp_path / "mirror"
    write_tu(mirror / "TOYATTR" / "raw", "TOYATTR", toy_graphs(), node_attributes=True)
    args = ["train", "dataset=tu", "dataset.name=TOYATTR", "protocol=holdout"]
    out = run_cli([*args, *EPOCHS], tmp_path, tmp_path / "data", mirror)
    assert out.returncode == 0, out.stderr
    frame = rows(tmp_path)
    assert frame.dataset.tolist() == ["TOYATTR"] and frame.status.tolist() == ["ok"]


def test_own_yamls_through_config_dir(tmp_path):
    """A dataset YAML and an experiment YAML that picks it, in the user's folder."""
    mirror = tmp_path / "mirror"
    write_tu(mirror / "TOYBARE" / "raw", "TOYBARE", toy_graphs(), node_labels=False)
    conf = tmp_path / "myconf"
    (conf / "dataset").mkdir(parents=True)
    (conf / "experiment").mkdir()
    (conf / "dataset" / "toybare.yaml").write_text(
        "_target_: poolbench.data.tu.load_tu\nname: TOYBARE\nfeatures: auto\n"
    )
    (conf / "experiment" / "toy.yaml").write_text(
        "# @package _global_\n"
        "defaults:\n  - override /dataset: toybare\n"
        "model:\n  hidden: 8\n"
    )
    base = ["train", "--config-dir", str(conf), "protocol=holdout", *EPOCHS]
    out = run_cli([*base, "experiment=toy"], tmp_path, tmp_path / "data", mirror)
    assert out.returncode == 0, out.stderr
    frame = rows(tmp_path)
    assert frame.dataset.tolist() == ["TOYBARE"] and frame.status.tolist() == ["ok"]
    assert frame.model.str.endswith("h8").all()
    typo = run_cli([*base, "dataset=toybar"], tmp_path, tmp_path / "data", mirror)
    assert typo.returncode == 2
    assert "unknown dataset 'toybar'; available:" in typo.stderr
    assert "toybare" in typo.stderr and "mutag" in typo.stderr
