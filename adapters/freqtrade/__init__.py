"""Freqtrade adapter: offline markets, run configuration, worker processes, result parsing."""
