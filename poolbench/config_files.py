"""Where the Hydra config tree lives: ``conf/`` in a checkout, a copy in a wheel.

``conf/`` stays at the top of the repository, where users read and edit it;
the wheel's build copies it to ``poolbench/conf`` (see ``setup.py``), so an
installed poolbench composes its configs from any working directory.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def conf_dir() -> Path:
    packaged = _PACKAGE / "conf"  # a wheel install
    if (packaged / "config.yaml").is_file():
        return packaged
    return _PACKAGE.parent / "conf"  # a source checkout (also editable installs)


CONF_DIR = conf_dir()
