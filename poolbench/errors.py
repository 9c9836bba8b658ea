"""User-facing errors: one line that says what is wrong and how to fix it."""


class PoolbenchError(Exception):
    """Bad input. The CLI prints the message on one line and exits with code 2."""


class RunFailure(Exception):
    """A single run failed in a way that is recorded as a result row (NaN, OOM)."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status


class StoreWriteError(Exception):
    """A result could not be written (disk full, read-only, I/O error).

    Nothing more can be recorded, so the command stops with this one line and
    exit code 1; the store is left as it was before the failed write.
    """
