"""Benchmarks: measured figures, each printed next to a baseline from the same run."""
