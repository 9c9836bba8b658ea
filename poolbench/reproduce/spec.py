"""A reproduction: the paper, its published numbers per cell, and the budgets.

One file per reproduction in ``conf/reproduce/<name>.yaml`` (next to the
experiment configs it runs). A *cell* is one method on one dataset: the
experiment config and overrides that run it, and the paper's mean ± std.
A *budget* says what runs: ``full`` is the paper's protocol and grid;
``quick`` is a stated reduction (overrides for every cell or per method, a
subset of datasets, or smaller stand-in datasets) whose note is printed on the
table and written into the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import OmegaConf

from poolbench.config_files import CONF_DIR
from poolbench.errors import PoolbenchError

SPEC_DIR = CONF_DIR / "reproduce"
SPREADS = ("folds", "runs")


@dataclass
class Cell:
    """One method on one dataset, with the paper's published number."""

    method: str
    dataset: str  # the dataset config name
    experiment: str
    published_mean: float  # in percent
    published_std: float
    overrides: list[str] = field(default_factory=list)


@dataclass
class Budget:
    name: str
    note: str
    overrides: list[str] = field(default_factory=list)
    per_method: dict[str, list[str]] = field(default_factory=dict)
    datasets: list[str] | None = None  # which of the cells' datasets run
    methods: list[str] | None = None  # which methods run
    dataset_map: dict[str, str] = field(default_factory=dict)  # stand-in sets


@dataclass
class Reproduction:
    name: str
    paper: str
    source: str  # where the published numbers are (table, page, file)
    spread: str  # the paper's ±: std over outer folds or over runs on one split
    published_n: int  # how many values the paper's std is over
    cells: list[Cell]
    budgets: dict[str, Budget]

    def cells_for(self, budget: Budget) -> list[tuple[Cell, str]]:
        """The cells a budget runs, each with the dataset config it runs on."""
        chosen = []
        for cell in self.cells:
            if budget.datasets is not None and cell.dataset not in budget.datasets:
                continue
            if budget.methods is not None and cell.method not in budget.methods:
                continue
            chosen.append((cell, budget.dataset_map.get(cell.dataset, cell.dataset)))
        return chosen


def available() -> list[str]:
    return sorted(p.stem for p in SPEC_DIR.glob("*.yaml"))


def load_reproduction(name: str) -> Reproduction:
    """The spec ``conf/reproduce/<name>.yaml``; bad names fail in one line."""
    path = SPEC_DIR / f"{name}.yaml"
    if not path.is_file():
        raise PoolbenchError(
            f"unknown experiment {name!r} for reproduce; available: "
            + ", ".join(available())
        )
    try:
        raw = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
        cells = [
            Cell(
                method=str(c["method"]),
                dataset=str(c["dataset"]),
                experiment=str(c["experiment"]),
                published_mean=float(c["published"][0]),
                published_std=float(c["published"][1]),
                overrides=[str(o) for o in c.get("overrides", [])],
            )
            for c in raw["cells"]
        ]
        budgets = {
            key: Budget(
                name=key,
                note=str(b["note"]).strip(),
                overrides=[str(o) for o in b.get("overrides", [])],
                per_method={
                    str(m): [str(o) for o in ovs]
                    for m, ovs in (b.get("per_method") or {}).items()
                },
                datasets=b.get("datasets"),
                methods=b.get("methods"),
                dataset_map=dict(b.get("dataset_map") or {}),
            )
            for key, b in raw["budgets"].items()
        }
        spec = Reproduction(
            name=name,
            paper=str(raw["paper"]),
            source=str(raw["source"]),
            spread=str(raw["spread"]),
            published_n=int(raw["published_n"]),
            cells=cells,
            budgets=budgets,
        )
    except Exception as exc:  # YAML or field errors: one line naming the file
        first = str(exc).splitlines()[0] if str(exc) else repr(exc)
        raise PoolbenchError(f"{path} is malformed: {first}") from None
    if spec.spread not in SPREADS:
        raise PoolbenchError(f"{path}: spread must be one of {', '.join(SPREADS)}")
    return spec


def budget_of(spec: Reproduction, name: str) -> Budget:
    if name not in spec.budgets:
        raise PoolbenchError(
            f"unknown budget {name!r} for {spec.name}; use one of "
            + ", ".join(spec.budgets)
        )
    return spec.budgets[name]
