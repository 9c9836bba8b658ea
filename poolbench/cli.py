"""The ``poolbench`` command: train, list, table, eval, bench and reproduce.

``train`` hands every argument to Hydra, so any override and ``-m`` work.
Bad input ends with one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

EXIT_BAD_INPUT = 2

USAGE = """poolbench: benchmark pooling operators in GNNs (graph, node and
community tasks).

commands:
  train [overrides] [-m]   train and test under the chosen protocol (default:
                           10-fold CV with model selection), e.g.
                           poolbench train pooler=mincut dataset=mutag
                           poolbench train -m pooler=mincut,topk dataset=mutag,proteins
  list poolers|datasets    what can be benchmarked, with metadata
  table [filters]          aggregate results/ into tables and figures
  eval <kind> [overrides]  pooling-quality evaluations
  bench [options]          speed and memory benchmark
  reproduce <experiment> [--budget quick|full]
                           run a paper's setup, compare with its numbers,
                           write docs/reproductions/<experiment>.md, e.g.
                           poolbench reproduce errica2020 --budget quick

Configuration groups live in conf/: task, dataset, pooler, model, protocol,
trainer, logger, experiment, hydra/launcher. `poolbench train --help` shows
them all.
"""


def fail(message: str) -> None:
    print(f"poolbench: error: {message}", file=sys.stderr)
    raise SystemExit(EXIT_BAD_INPUT)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return
    command, rest = argv[0], argv[1:]
    from poolbench.errors import PoolbenchError, StoreWriteError

    try:
        if command == "train":
            from poolbench.hydra_app import train

            train(rest)
        elif command == "list":
            from poolbench.catalog import list_command

            list_command(rest)
        elif command == "table":
            from poolbench.report.cli import table_command

            table_command(rest)
        elif command == "eval":
            from poolbench.evaluation.cli import eval_command

            eval_command(rest)
        elif command == "reproduce":
            from poolbench.reproduce.cli import reproduce_command

            reproduce_command(rest)
        elif command == "bench":
            from poolbench.bench.cli import bench_command

            bench_command(rest)
        else:
            fail(f"unknown command {command!r}; run `poolbench --help`")
    except PoolbenchError as exc:
        fail(str(exc))
    except StoreWriteError as exc:  # a result could not be written: stop, exit 1
        print(f"poolbench: error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except BrokenPipeError:  # the reader of stdout stopped (| head): no error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so exit's flush cannot fail again
        raise SystemExit(1) from None
    except KeyboardInterrupt:  # Ctrl-C outside a run (a run writes its row)
        print(
            "poolbench: interrupted (Ctrl-C); what finished is recorded, and "
            "rerunning the same command does the rest",
            file=sys.stderr,
        )
        raise SystemExit(130) from None


def parse_list_args(argv: list[str]) -> argparse.Namespace:
    from poolbench.arguments import ArgumentParser

    parser = ArgumentParser(prog="poolbench list")
    parser.add_argument("what", choices=["poolers", "datasets"])
    return parser.parse_args(argv)
