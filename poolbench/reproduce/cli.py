"""``poolbench reproduce <experiment> [--budget quick|full]``."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from poolbench.arguments import ArgumentParser
from poolbench.errors import PoolbenchError
from poolbench.report.console import table_console
from poolbench.reproduce.spec import available, budget_of, load_reproduction

EPILOG = """examples:
  poolbench reproduce errica2020 --budget quick
  poolbench reproduce bianchi2022_easy_hard --budget quick --only mincut,topk
Each cell is a normal `poolbench train` run: rows go to RESULTS_DIR/results.csv
and a rerun skips the runs already finished. The paper's numbers live in
conf/reproduce/<experiment>.yaml."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = ArgumentParser(
        prog="poolbench reproduce",
        description="Run a paper's setup and compare with its published numbers.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("experiment", help=f"one of: {', '.join(available())}")
    parser.add_argument(
        "--budget",
        default="quick",
        help="full (the paper's protocol) or quick (a stated cut)",
    )
    parser.add_argument(
        "--only", default="", help="comma-separated methods to run (default: all)"
    )
    parser.add_argument(
        "--set",
        dest="extra",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one more override for every cell (stated in the report)",
    )
    parser.add_argument("--results-dir", default="results")
    parser.add_argument(
        "--report", type=Path, help="default docs/reproductions/<experiment>.md"
    )
    parser.add_argument(
        "--no-run",
        action="store_true",
        help="only tabulate the runs already in the store",
    )
    return parser.parse_args(argv)


def reproduce_command(argv: list[str]) -> None:
    args = parse_args(argv)
    spec = load_reproduction(args.experiment)
    budget = budget_of(spec, args.budget)
    if args.only:
        wanted = {m for m in args.only.split(",") if m}
        known = {c.method for c in spec.cells}
        if wanted - known:
            raise PoolbenchError(
                f"--only {','.join(sorted(wanted - known))}: not a method of "
                f"{spec.name}; methods: {', '.join(sorted(known))}"
            )
        spec.cells = [c for c in spec.cells if c.method in wanted]
    # imported once the names are checked: torch and PyG take seconds to load
    from poolbench.reproduce.report import evaluate, print_outcome, write_report
    from poolbench.reproduce.run import collect, plan, run_cells
    from poolbench.runner import git_commit

    runs = plan(spec, budget, args.results_dir, args.extra)  # all checked first

    def log(text: str) -> None:
        print(f"poolbench reproduce: {text}", file=sys.stderr)

    wall = None if args.no_run else run_cells(runs, log)
    collect(runs, spec.spread, args.results_dir)
    outcome = evaluate(spec, budget, runs)
    print_outcome(outcome, table_console(), args.extra)
    # the command that runs these cells; --no-run only re-tabulates them
    command = "poolbench reproduce " + " ".join(
        shlex.quote(a) for a in argv if a != "--no-run"
    )
    report = args.report or Path("docs/reproductions") / f"{spec.name}.md"
    write_report(outcome, report, command, git_commit(), wall, args.extra)
    log(f"report written to {report}")
