"""Bad input refused before any work: one line naming the fix, exit code 2.

``command`` composes every job of a ``poolbench train`` command the way Hydra
will and turns Hydra's errors into one line; ``config`` checks one composed
config (keys, types, ranges, paths, the data files and the protocol against
them); ``values`` is the generic checker both use, driven by the type
annotations of the code that consumes each section plus a table of ranges.
"""
