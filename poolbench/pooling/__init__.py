"""Pooling operators in the Select-Reduce-Connect framework."""

from poolbench.pooling.base import Pooler, PoolOutput
from poolbench.pooling.registry import available, discover, get_pooler, register

__all__ = ["PoolOutput", "Pooler", "available", "discover", "get_pooler", "register"]
