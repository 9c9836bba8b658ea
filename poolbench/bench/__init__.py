"""Benchmarks of poolbench itself: epoch throughput, parallel sweeps, cost scaling."""
