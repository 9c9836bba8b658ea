"""``python -m poolbench`` is the ``poolbench`` command."""

from poolbench.cli import main

main()
