"""What each config hash stands for: ``<results.dir>/configs/<hash>.json``.

A row carries only its config's hash. The identity that hash was made from
(:func:`poolbench.experiment.config_identity`) is saved once beside the
results, so a table can name two configs of one pooler by the settings that
tell them apart (``mincut · trainer.lr=0.01``) instead of by their hashes.
Plain JSON, read with ``json``: nothing loaded executes code. A missing or
damaged file only means the table falls back to the hash.
"""

from __future__ import annotations

import json
from pathlib import Path

from poolbench.results.files import replace_atomically

FOLDER = "configs"


def save_identity(directory: str | Path, config_hash: str, identity: dict) -> None:
    """Write the identity of ``config_hash`` unless it is there already (the
    same hash is the same identity, so concurrent writers agree)."""
    path = Path(directory) / FOLDER / f"{config_hash}.json"
    if path.is_file():
        return
    text = json.dumps(identity, sort_keys=True, default=str, indent=1)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_atomically(path, text.encode())
    except OSError:
        # Only a label is lost (tables show the hash); a store that cannot
        # be written fails loudly at its first row.
        pass


def load_identities(directory: str | Path, hashes) -> dict[str, dict]:
    """The saved identities of ``hashes``, flattened to dotted keys; a hash
    without a readable file is left out."""
    out = {}
    for h in sorted(set(map(str, hashes))):
        path = Path(directory) / FOLDER / f"{h}.json"
        try:
            saved = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            continue  # RecursionError: JSON nested past the parser's depth
        if isinstance(saved, dict):
            out[h] = flatten(saved)
    return out


def flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def differences(identities: list[dict], most: int = 3) -> list[str]:
    """Per identity, ``key=value`` of the keys whose values are not the same in
    all of them (at most ``most``, then ``…``); two identities alike in those
    keys get the same text, which the caller checks."""
    keys = sorted(set().union(*identities))
    differing = [
        k
        for k in keys
        if len({json.dumps(i.get(k), sort_keys=True, default=str) for i in identities})
        > 1
    ]
    labels = []
    for identity in identities:
        parts = [
            f"{k}={_text(identity[k]) if k in identity else _left_out(k)}"
            for k in differing[:most]
        ]
        if len(differing) > most:
            parts.append("…")
        labels.append(", ".join(parts))
    return labels


# A key the hash leaves out while it holds its default (so runs made before
# it existed keep their id): what that default reads as.
_LEFT_OUT = {"protocol.split": "auto"}


def _left_out(key: str) -> str:
    return _LEFT_OUT.get(key, "default")


def _text(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ",".join(_text(v) for v in value) + "]"
    return str(value)
