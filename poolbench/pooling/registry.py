"""The one pooler registry: config name -> class, filled by each pooler's decorator.

Adding a pooler means a file under ``poolers/`` that decorates its class with
:func:`register` and a ``conf/pooler/<name>.yaml``; :func:`discover` imports every
module of the package, so nothing else needs editing.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import get_args

from poolbench.errors import PoolbenchError
from poolbench.pooling.base import Family, Pooler

_REGISTRY: dict[str, type[Pooler]] = {}


def register(name: str):
    """Class decorator that files a pooler under ``name``."""

    def wrap(cls: type[Pooler]) -> type[Pooler]:
        if not issubclass(cls, Pooler):
            raise TypeError(f"{cls.__name__} must subclass poolbench Pooler")
        families = get_args(Family)
        if getattr(cls, "family", None) not in families:
            # found here, at import, not as an AttributeError in the catalogue
            raise PoolbenchError(
                f"pooler {name} ({cls.__module__}): declare family = one of "
                f"{', '.join(map(repr, families))}"
            )
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"pooler name {name!r} is registered twice")
        cls.registry_name = name
        _REGISTRY[name] = cls
        return cls

    return wrap


def discover() -> dict[str, type[Pooler]]:
    """Import every pooler module once and return the registry, sorted by name."""
    from poolbench.pooling import poolers

    for module in pkgutil.iter_modules(poolers.__path__):
        importlib.import_module(f"{poolers.__name__}.{module.name}")
    return dict(sorted(_REGISTRY.items()))


def available() -> list[str]:
    return list(discover())


def get_pooler(name: str) -> type[Pooler]:
    registry = discover()
    if name not in registry:
        raise PoolbenchError(
            f"unknown pooler {name!r}; available: {', '.join(registry)}"
        )
    return registry[name]


def name_of(cls: type) -> str:
    """The registry name of a pooler class, or its import path for a user's own."""
    discover()
    # Read the class's own attribute: a user's subclass of a registered pooler
    # is a different pooler and must not inherit its parent's name.
    own = cls.__dict__.get("registry_name")
    return own or f"{cls.__module__}.{cls.__qualname__}"
