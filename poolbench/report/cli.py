"""``poolbench table``: the results store into tables (md, tex, csv, rich), figures."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pandas as pd

from poolbench.arguments import ArgumentParser
from poolbench.errors import PoolbenchError
from poolbench.report.console import table_console

FILTER_KEYS = ("dataset", "pooler", "experiment", "protocol", "model", "config_hash")

EPILOG = """filters: KEY=VALUE[,VALUE...] with KEY one of
  dataset, pooler, experiment, protocol, model, config_hash
  e.g. poolbench table dataset=mutag,proteins pooler=mincut,topk protocol=cv10
dataset names match config names too (imdb_binary = IMDB-BINARY)."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = ArgumentParser(
        prog="poolbench table",
        description="Aggregate the results store into benchmark tables and figures.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("filters", nargs="*", metavar="KEY=VALUE")
    parser.add_argument(
        "--kind",
        choices=["runs", "eval"],
        default="runs",
        help="runs: training results (results.csv); eval: pooling-quality "
        "evaluations (evaluations.csv)",
    )
    parser.add_argument("--results-dir", default="results", type=Path)
    parser.add_argument(
        "--out",
        type=Path,
        help="tables folder (default RESULTS_DIR/tables; with filters, a "
        "subfolder named by them, e.g. RESULTS_DIR/tables/pooler=mincut,topk)",
    )
    parser.add_argument(
        "--figures",
        type=Path,
        help="figures folder (default RESULTS_DIR/figures, or its subfolder "
        "named by the filters)",
    )
    parser.add_argument("--no-figures", action="store_true", help="tables only")
    return parser.parse_args(argv)


def parse_filters(items: list[str]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not value:
            raise PoolbenchError(f"filter {item!r} must look like KEY=VALUE[,VALUE]")
        if key == "results.dir":  # train's spelling of the store's place
            raise PoolbenchError(
                f"table reads its store with --results-dir {value}, not {item}"
            )
        if key not in FILTER_KEYS:
            raise PoolbenchError(
                f"unknown filter {key!r}; use one of {', '.join(FILTER_KEYS)}"
            )
        filters.setdefault(key, []).extend(v for v in value.split(",") if v)
    return filters


def _norm(value: str, key: str) -> str:
    return value.upper().replace("_", "-") if key == "dataset" else value


def filter_column(frame: pd.DataFrame, key: str) -> pd.Series:
    """The values a filter on ``key`` matches; a protocol also by the name its
    tables carry (``cv10-3folds``, the ``table_protocol`` column)."""
    column = frame[key].astype(str)
    if key == "protocol" and "table_protocol" in frame:
        labels = frame["table_protocol"].astype(str)
        column = pd.concat([column, labels[labels != column]])
    return column


def unmatched_filter(frame: pd.DataFrame, filters: dict[str, list[str]], path) -> None:
    """Refuse a filter value no row has (a typo such as ``pooler=topkk``): the
    table would silently leave it out and look complete."""
    for key, values in filters.items():
        have = sorted(set(filter_column(frame, key)))
        known = {_norm(v, key) for v in have}
        for value in values:
            if _norm(value, key) not in known:
                raise PoolbenchError(
                    f"no rows of {path} match {key}={value}; the store has "
                    f"{key}: {', '.join(have)}"
                )


def output_folder(path: Path, flag: str) -> Path:
    """``path`` made as a folder before any table is built, or one line why not."""
    if path.exists() and not path.is_dir():
        raise PoolbenchError(f"{flag} {path} is a file; give a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PoolbenchError(
            f"{flag} {path} cannot be made ({exc.strerror}); give another folder"
        ) from None
    return path


def filtered_name(filters: dict[str, list[str]]) -> str:
    """The subfolder a filtered table goes to by default, e.g.
    ``pooler=mincut,topk``: a filtered set must not overwrite the full one."""
    text = "_".join(
        f"{k}={','.join(sorted({_norm(x, k) for x in v}))}"
        for k, v in sorted(filters.items())
    )
    return re.sub(r"[^A-Za-z0-9=,._-]", "-", text)


def apply_filters(frame: pd.DataFrame, filters: dict[str, list[str]]) -> pd.DataFrame:
    for key, values in filters.items():
        wanted = {_norm(v, key) for v in values}
        column = frame[key].astype(str).map(lambda v, k=key: _norm(v, k))
        keep = column.isin(wanted)
        if key == "protocol" and "table_protocol" in frame:  # or its tables' name
            keep |= frame["table_protocol"].isin(wanted)
        frame = frame[keep]
    return frame


def table_command(argv: list[str]) -> None:
    args = parse_args(argv)
    console = table_console()
    if args.kind == "eval":
        render_eval(args, console)
        return
    from poolbench.errors import StoreWriteError
    from poolbench.report.figures import draw_figures
    from poolbench.report.render import print_tables, to_csv, to_latex, to_markdown
    from poolbench.report.summary import spread_values
    from poolbench.report.tables import build_tables, table_protocols
    from poolbench.results.configs import load_identities
    from poolbench.results.files import describe_os_error, replace_atomically
    from poolbench.results.store import ResultsStore

    filters = parse_filters(args.filters)
    store = ResultsStore(args.results_dir)
    latest = store.latest()
    warning = store.read_warning()
    if warning:
        print(warning, file=sys.stderr)
    if latest.empty:
        raise PoolbenchError(
            f"no results in {store.path}: run `poolbench train ...` first, or "
            "point --results-dir at another store"
        )
    # Named once over the whole store, so a filter never renames a table
    # (a protocol the configs do not ship is named by its fold counts).
    latest["table_protocol"] = table_protocols(latest).to_numpy()
    unmatched_filter(latest, filters, store.path)
    chosen = apply_filters(latest, filters)
    if chosen.empty:
        have = {k: sorted(set(latest[k])) for k in ("dataset", "pooler", "protocol")}
        raise PoolbenchError(
            f"no rows of {store.path} match {' '.join(args.filters)}; the store has "
            + "; ".join(f"{k}: {', '.join(v)}" for k, v in have.items())
        )
    # A filtered set goes to a subfolder named by its filters unless --out
    # says where: it must not replace the full tables of the store.
    sub = filtered_name(filters) if filters else ""
    out = output_folder(args.out or args.results_dir / "tables" / sub, "--out")
    if not args.no_figures:
        figures = args.figures or args.results_dir / "figures" / sub
        figures = output_folder(figures, "--figures")
    identities = load_identities(args.results_dir, chosen["config_hash"])
    tables, summary = build_tables(chosen, identities)
    written = [out / "summary.csv"]
    # Each file is written whole or not at all: a full disk leaves the old
    # file (or none), never a truncated table.
    try:
        replace_atomically(written[0], summary.to_csv(index=False).encode())
        for table in tables:
            for ext, render in (
                ("md", to_markdown),
                ("tex", to_latex),
                ("csv", to_csv),
            ):
                path = out / f"{table.name}.{ext}"
                replace_atomically(path, render(table).encode())
                written.append(path)
        if not args.no_figures:
            written += draw_figures(summary, spread_values(chosen, summary), figures)
    except OSError as exc:
        raise StoreWriteError(
            f"could not write the tables: {describe_os_error(exc)}"
            + (f" ({exc.filename})" if exc.filename else "")
            + "; every file written is whole, the rest are as they were"
        ) from None
    try:
        print_tables(tables, console)
    except BrokenPipeError:
        raise  # the reader stopped (| head): poolbench.cli ends quietly
    except OSError as exc:
        raise StoreWriteError(
            f"could not print the tables: {describe_os_error(exc)}; the files "
            f"in {out} are written"
        ) from None
    console.print(
        f"{len(chosen)} runs from {store.path} → {len(written)} files: "
        f"tables in {out}" + ("" if args.no_figures else f", figures in {figures}")
    )


def render_eval(args: argparse.Namespace, console) -> None:
    """Pooling-quality tables, drawn by the evaluation package's own report."""
    if args.filters:
        raise PoolbenchError(
            "filters apply to --kind runs only; --kind eval tabulates "
            f"{args.results_dir / 'evaluations.csv'} whole"
        )
    from poolbench.evaluation.report import render_eval_tables

    out = output_folder(args.out or args.results_dir / "tables", "--out")
    render_eval_tables(args.results_dir, out, console)
