"""What one run may use, and the caps on what it may hand back.

The supervisor (pool.py) checks these on a timer; the kernel enforces them too (rlimits set by
the worker before any strategy code runs, cgroups where the host offers them, a size-limited
/tmp), so a strategy that fools or floods the supervisor still meets them.
"""

from __future__ import annotations

from dataclasses import dataclass

# Processes (threads included) a run may have at once: freqtrade needs a few dozen at most.
MAX_PROCESSES = 128
# Largest file a run may write (freqtrade's result zip and log are a few MB).
MAX_FILE_BYTES = 1 << 30
# The files a run hands back, by name, each with its own size cap: nothing else is copied.
ARTIFACT_CAPS = {
    "result": 64 << 20,
    "freqtrade-result.zip": 64 << 20,
    "freqtrade.log": 16 << 20,
}
MAX_ARTIFACT_BYTES = 128 << 20  # all of one run's files together
DEFAULT_MAX_TRADES = 50_000
# CPU seconds a worker gets before its run, to import freqtrade and preload candles (~3 s).
WARM_UP_CPU_SECONDS = 120


@dataclass(frozen=True)
class RunLimits:
    """What one run may use before it is stopped and failed."""

    wall_seconds: float = 900.0
    memory_mb: int = 3072
    cpu_seconds: float | None = None  # CPU time of the run's interpreter; None: wall_seconds
    max_trades: int = DEFAULT_MAX_TRADES

    @property
    def cpu_limit(self) -> int:
        """The run's CPU-time rlimit in whole seconds (at least one)."""
        seconds = self.wall_seconds if self.cpu_seconds is None else self.cpu_seconds
        return max(1, int(seconds + 0.999))

    @property
    def data_limit_mb(self) -> int:
        """The data-segment rlimit: a backstop at twice the memory limit, not the limit itself.
        It counts memory reserved but never touched (a freqtrade worker's data segment was
        ~230 MB above its resident size, measured); the supervisor and the memory cgroup hold
        the resident limit, this one bounds a run where neither can act in time."""
        return 2 * self.memory_mb

    @property
    def memory_bytes(self) -> int:
        return self.memory_mb * 1024 * 1024
