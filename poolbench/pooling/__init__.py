"""Pooling operators in the Select-Reduce-Connect framework."""

import warnings

from poolbench.pooling.base import Pooler, PoolOutput
from poolbench.pooling.registry import available, discover, get_pooler, register

# torch's notices that an API is in beta, printed once per process in every
# user's run: index_reduce_ (ASAP's and LaPool's scatter max, stable in
# behaviour since torch 1.13) and the sparse products of ASAP's and PAN's CON.
warnings.filterwarnings("ignore", message=r"index_reduce\(\) is in beta")
warnings.filterwarnings("ignore", message=r"Sparse CSR tensor support is in beta")

__all__ = ["PoolOutput", "Pooler", "available", "discover", "get_pooler", "register"]
