"""The rich console poolbench prints tables to.

Off a terminal rich assumes 80 columns and truncates cells, which ruins logs
and piped output; there it gets a wide fixed width instead.
"""

from __future__ import annotations

from rich.console import Console


def table_console(stderr: bool = False) -> Console:
    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=200)
