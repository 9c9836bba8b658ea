"""One module per pooler; each registers itself with ``poolbench.pooling.registry``."""
