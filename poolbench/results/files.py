"""Writing store files so that a failed write leaves them as they were."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path


def describe_os_error(exc: OSError) -> str:
    """``No space left on device (ENOSPC)``: the cause, for a one-line message."""
    name = errno.errorcode.get(exc.errno or 0, "")
    return f"{exc.strerror or exc}" + (f" ({name})" if name else "")


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is out; a write that makes no progress is
    a full disk."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[n:]


def replace_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temp file beside ``path``, then rename it over ``path``:
    readers see the old file or the new one, never a mix. A symlink is followed:
    the file it names is replaced, not the link (which would fork a shared
    store into two)."""
    path = Path(os.path.realpath(path))
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process umask, so a new file gets the mode ``open`` would give it,
    not a fixed world-readable one. Read from /proc where it can be: setting
    it to read it back would change it for other threads for a moment."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
