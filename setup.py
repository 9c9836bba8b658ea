"""Packaging hook: the wheel carries the Hydra configs inside the package.

``conf/`` stays at the top of the repository, where users read and edit it.
A wheel (``pip install .``, ``pip install git+...``, a cluster install) has no
repository around it, so the build copies ``conf/`` to ``poolbench/conf``,
where :mod:`poolbench.config_files` finds it. Editable installs read ``conf/``
in place. Everything else is declared in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildWithConf(build_py):
    def run(self):
        super().run()
        if not self.editable_mode:
            target = Path(self.build_lib) / "poolbench" / "conf"
            shutil.copytree(HERE / "conf", target, dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildWithConf})
