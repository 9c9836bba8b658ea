"""Saved config identities: what a hash stands for, and the labels they give."""

from __future__ import annotations

import hashlib
import json

from hydra import compose, initialize_config_dir

from poolbench.config_files import CONF_DIR
from poolbench.experiment import config_hash, config_identity
from poolbench.results.configs import (
    differences,
    load_identities,
    save_identity,
)


def test_the_saved_identity_is_what_the_hash_was_made_from(tmp_path):
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["pooler=topk", "trainer.lr=0.01"])
    h = config_hash(cfg)
    save_identity(tmp_path, h, config_identity(cfg))
    saved = json.loads((tmp_path / "configs" / f"{h}.json").read_text())
    blob = json.dumps(saved, sort_keys=True, default=str)
    assert hashlib.sha1(blob.encode()).hexdigest()[:12] == h
    assert load_identities(tmp_path, [h])[h]["trainer.lr"] == 0.01


def test_a_damaged_or_missing_identity_is_left_out(tmp_path):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "bad.json").write_bytes(b"\xff{not json")
    (tmp_path / "configs" / "list.json").write_text("[1, 2]")
    assert load_identities(tmp_path, ["bad", "list", "absent"]) == {}


def test_differences_name_only_the_keys_that_differ():
    a = {"trainer.lr": 0.01, "model.blocks": [1, 1], "seed": 0}
    b = {"trainer.lr": 0.01, "model.blocks": [2, 1], "seed": 0}
    c = {"trainer.lr": 0.1, "model.blocks": [2, 1], "seed": 0, "pooler.temp": 1.0}
    assert differences([a, b, c]) == [
        "model.blocks=[1,1], pooler.temp=default, trainer.lr=0.01",
        "model.blocks=[2,1], pooler.temp=default, trainer.lr=0.01",
        "model.blocks=[2,1], pooler.temp=1.0, trainer.lr=0.1",
    ]
    assert differences([a, dict(a)]) == ["", ""]  # nothing tells them apart
    # a key the hash leaves out at its default is not shown as null
    plain, scaffold = {"seed": 0}, {"seed": 0, "protocol.split": "scaffold"}
    assert differences([plain, scaffold]) == [
        "protocol.split=auto",
        "protocol.split=scaffold",
    ]
    assert differences([{"pooler.temp": None}, {"pooler.temp": 1}]) == [
        "pooler.temp=null",  # an explicit null stays null
        "pooler.temp=1",
    ]
