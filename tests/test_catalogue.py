"""docs/poolers.md is generated from the registry and the checked-in costs."""

from __future__ import annotations

from pathlib import Path

from poolbench.pooling.catalogue import Cost, read_costs, render_catalogue
from poolbench.pooling.registry import discover

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "poolers.md"
COSTS = REPO / "docs" / "pooler_costs.csv"


def test_checked_in_catalogue_is_current():
    expected = render_catalogue(discover(), read_costs(COSTS))
    assert DOC.read_text() == expected, "docs/poolers.md is stale: run make catalogue"


def test_catalogue_has_a_row_per_pooler_with_its_capabilities_and_costs():
    registry = discover()
    costs = {("mincut", "MUTAG"): Cost(0.0421, 301.0, 4, "2026-12-01", "1.5")}
    text = render_catalogue(registry, costs)
    rows = {line.split(" | ")[0].strip("| `"): line for line in text.splitlines()
            if line.startswith("| `")}  # fmt: skip
    assert set(rows) == set(registry)
    cells = rows["mincut"].split(" | ")
    assert "cut, ortho" in cells and "0.042 s · 301 MiB" in rows["mincut"]
    assert rows["mincut"].rstrip(" |").endswith("not measured")  # PROTEINS
    # can cluster / can lift come from the classes.
    assert cells[8] == "yes" and rows["topk"].split(" | ")[8] == "–"
    assert "(4 epochs, the first a warm-up)" in text and "load average 1.5" in text


def test_the_checked_in_costs_cover_every_pooler_on_both_datasets():
    costs = read_costs(COSTS)
    missing = [
        (name, d) for name in discover() for d in ("MUTAG", "PROTEINS")
        if (name, d) not in costs
    ]  # fmt: skip
    assert not missing, f"run make catalogue-costs for {missing}"


def test_the_readme_counts_the_registered_poolers():
    """ "the 30 registered poolers (25 plus 5 controls ...)" goes stale when a
    pooler joins unless something checks it."""
    import re

    text = " ".join((REPO / "README.md").read_text().split())
    found = re.search(r"the (\d+) registered poolers \((\d+) plus (\d+) controls", text)
    assert found, "the README's pooler count sentence moved"
    total, papers, controls = map(int, found.groups())
    registry = discover()
    assert total == len(registry)
    assert controls == sum(c.family == "control" for c in registry.values())
    assert papers + controls == total
