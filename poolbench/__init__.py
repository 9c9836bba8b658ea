"""poolbench: a reproducible benchmark runner for pooling operators in GNNs."""

__version__ = "0.1.0"
