"""``poolbench list``: the registered poolers and the configured datasets."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf
from rich.table import Table

from poolbench.hydra_app import CONF_DIR
from poolbench.report.console import table_console


def pooler_table() -> Table:
    from poolbench.pooling.registry import discover

    table = Table(title="poolers")
    for col in (
        "name",
        "family",
        "dense/sparse",
        "trainable",
        "aux loss",
        "precomputable",
        "expressive",
        "can cluster",
        "can lift",
    ):
        table.add_column(col)
    yes = {True: "yes", False: "-"}
    for name, cls in discover().items():
        m = cls.metadata()
        table.add_row(
            name,
            m["family"],
            "dense" if m["dense"] else "sparse",
            yes[m["trainable"]],
            yes[m["aux_loss"]],
            yes[m["precomputable"]],
            yes[m["expressive"]],
            yes[m["can_cluster"]],
            yes[m["can_lift"]],
        )
    return table


def _raw_counts(raw: Path, name: str) -> tuple[int, int, int | None]:
    """Graphs, classes and node-label count read straight from TU raw files."""
    labels = (raw / f"{name}_graph_labels.txt").read_text().split()
    node_labels = raw / f"{name}_node_labels.txt"
    n_node_labels = (
        len(set(node_labels.read_text().split())) if node_labels.is_file() else None
    )
    return len(labels), len(set(labels)), n_node_labels


def _find_raw(name: str, root: str, mirror: str | None) -> Path | None:
    """The raw folder to count from: the data root's copy, else the mirror's
    (found as the loader finds it)."""
    from poolbench.data.tu_raw import mirror_raw

    local = Path(root) / "TUDataset" / name / "raw"
    for raw in (local, mirror_raw(Path(mirror), name) if mirror else None):
        if raw is not None and (raw / f"{name}_graph_labels.txt").is_file():
            return raw
    return None


def _loader_facts(cfg) -> tuple[str, str, str, str]:
    """(tasks, target kind, what the data is, classes) from the loader's
    declarations and the config's settings."""
    from hydra.utils import get_method

    from poolbench.data import loader_facts

    target = cfg._target_
    loader = get_method(target)
    data_kind, kind = loader_facts(loader)
    nodes = data_kind == "nodes"
    tasks = "node, community" if nodes else "graph"
    made_here = (".synthetic.", ".expressiveness.", ".communities.")
    generated = any(module in target for module in made_here)
    if cfg.get("source") == "original":  # expwl1_original: the authors' file
        generated = False
    graphs = declared(loader, "graph_count", cfg)
    what = "1 graph" if nodes else "graphs" if graphs is None else str(graphs)
    what += ", generated" if generated else ""
    classes = declared(loader, "class_count", cfg)
    return tasks, kind, what, "–" if classes is None else str(classes)


def declared(loader, fact: str, cfg):
    """A fact the loader declares about its data (``class_count``,
    ``graph_count``, ``feature_count``), from the config's keys, or None."""
    count = getattr(loader, fact, None)
    if count is None:
        return None
    return count(**{k: cfg[k] for k in cfg if k != "_target_"})


def dataset_table() -> Table:
    from hydra.utils import get_method

    data = OmegaConf.load(CONF_DIR / "config.yaml").data
    root, mirror = OmegaConf.to_container(data, resolve=True).values()
    table = Table(title="datasets")
    for col in (
        "config", "name", "tasks", "target", "graphs", "classes", "features",
        "feature transform",
    ):  # fmt: skip
        table.add_column(col)
    for path in sorted((CONF_DIR / "dataset").glob("*.yaml")):
        cfg = OmegaConf.load(path)
        features = "–"
        transform = str(cfg.get("features", "–"))
        if cfg.get("normalize_features"):
            transform = "row-normalised"
        tasks, kind, graphs, classes = _loader_facts(cfg)
        width = declared(get_method(cfg._target_), "feature_count", cfg)
        features = "–" if width is None else str(width)
        if OmegaConf.is_missing(cfg, "name"):  # dataset=tu: any TU set by name
            table.add_row(
                path.stem, "dataset.name=…", tasks, kind, "any TU set", "", "",
                transform,
            )  # fmt: skip
            continue
        if "load_tu" in cfg._target_:
            raw = _find_raw(cfg.name, root, mirror)
            if raw is not None:
                g, c, node_labels = _raw_counts(raw, cfg.name)
                graphs, classes = str(g), str(c)
                if transform == "degree":
                    features = str(cfg.max_degree + 1)
                elif transform == "constant":
                    features = "1"
                elif node_labels is not None:
                    features = str(node_labels) + (
                        " + attrs" if cfg.use_node_attr else ""
                    )
            else:
                graphs = "not local"
        table.add_row(
            path.stem,
            str(cfg.get("name", path.stem)),
            tasks,
            kind,
            graphs,
            classes,
            features,
            transform,
        )
    return table


def list_command(argv: list[str]) -> None:
    from poolbench.cli import parse_list_args

    args = parse_list_args(argv)
    table = pooler_table() if args.what == "poolers" else dataset_table()
    table_console().print(table)
