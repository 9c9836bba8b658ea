"""The generic checker: annotations, ranges, unknown keys with a hint."""

from __future__ import annotations

from typing import Literal

import pytest

from poolbench.errors import PoolbenchError
from poolbench.validation.values import (
    Interval,
    Spec,
    check_plain_name,
    check_section,
    conforms,
)


@pytest.mark.parametrize(
    "value, annotation, ok",
    [
        (3, int, True),
        (1.5, int, False),
        (2.0, int, False),  # a float is not an int, even a whole one
        ("3", int, False),
        (True, int, False),  # bool is an int to Python, not to a config
        (3, float, True),
        (True, float, False),
        ("abc", float, False),
        (None, float | None, True),
        ("x", float | None, False),
        ([1, 2], list[int], True),
        ([1, 2.5], list[int], False),
        ((1, 2), tuple[int, ...], True),
        ("val_acc", Literal["val_loss", "val_acc"], True),
        ("val_f1", Literal["val_loss", "val_acc"], False),
        ({"a": [1]}, dict, True),
    ],
)
def test_values_against_annotations(value, annotation, ok):
    assert conforms(value, annotation) is ok


def test_interval_bounds_and_wording():
    ratio = Interval.parse("(0, 1]")
    assert 1 in ratio and 0.5 in ratio and 0 not in ratio and 1.01 not in ratio
    assert ratio.describe() == "lie in (0, 1]"
    assert Interval.parse("[1, inf)").describe() == "be ≥ 1"
    assert float("nan") not in Interval.parse("(0, inf)")


def make(hidden: int, mp: str = "gin", ratio: float = 0.5, **extra):
    """A consumer with an injected ``ratio`` and open ``**extra``."""


def closed(hidden: int, dropout: float = 0.0):
    """A consumer that takes exactly two keys."""


def test_section_checks_name_the_key_and_the_fix():
    spec = Spec.of("model", closed)
    with pytest.raises(PoolbenchError, match=r"did you mean model\.hidden\?"):
        check_section(spec, {"hiden": 3})
    with pytest.raises(
        PoolbenchError, match=r"model\.hidden must be an integer, got 1\.5"
    ):
        check_section(spec, {"hidden": 1.5})
    with pytest.raises(PoolbenchError, match=r"model\.hidden must be ≥ 1, got 0"):
        check_section(spec, {"hidden": 0})
    with pytest.raises(PoolbenchError, match=r"model\.hidden is required"):
        check_section(spec, {"dropout": 0.1})
    check_section(spec, {"hidden": 8, "dropout": 0})


def test_injected_keys_are_refused_and_kwargs_open_the_section():
    spec = Spec.of("pooler", make, {"ratio": "model.pool_ratio"})
    assert spec.open and set(spec.params) == {"hidden", "mp"}
    check_section(spec, {"hidden": 4, "anything": "goes"})
    with pytest.raises(PoolbenchError, match="set by poolbench from model.pool_ratio"):
        check_section(spec, {"hidden": 4, "ratio": 0.3})


@pytest.mark.parametrize("name", ["../x", "a/b", "..", "", "a\\b"])
def test_names_with_a_path_are_refused(name):
    with pytest.raises(PoolbenchError, match="plain name"):
        check_plain_name("dataset.name", name)


def test_plain_names_pass():
    for name in ("MUTAG", "IMDB-BINARY", "PROTEINS_full", "COIL-DEL"):
        check_plain_name("dataset.name", name)
