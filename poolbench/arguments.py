"""The subcommands' argument parser: a usage error is one line, exit 2.

argparse prints the usage block and then its error; poolbench's rule for bad
input is one line naming the fix, so the error becomes a
:class:`~poolbench.errors.PoolbenchError` that points at ``--help`` instead.
"""

from __future__ import annotations

import argparse
from typing import NoReturn

from poolbench.errors import PoolbenchError


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise PoolbenchError(f"{self.prog}: {message}; see {self.prog} --help")
