"""The supervisor's verdicts on a run: over a limit now, and why a dead worker died."""

from __future__ import annotations

import time

from adapters.freqtrade.limits import MAX_PROCESSES, RunLimits
from adapters.freqtrade.process_tree import describe_exit, tree_memory_mb
from adapters.freqtrade.worker_process import WorkerProcess


def over_limits(worker: WorkerProcess, limits: RunLimits, deadline: float) -> str | None:
    """Why the run must stop now, if it must."""
    if time.monotonic() > deadline:
        return f"the run exceeded its time limit of {limits.wall_seconds:.0f} s"
    rss, processes = tree_memory_mb(worker.popen.pid)
    used = rss + worker.tmp_bytes() / (1024 * 1024)  # /tmp is RAM too
    if used > limits.memory_mb:
        return f"the run exceeded its memory limit ({used:.0f} MB > {limits.memory_mb} MB)"
    if processes > MAX_PROCESSES:
        return f"the run started too many processes ({processes} > {MAX_PROCESSES})"
    return None


def died(worker: WorkerProcess, limits: RunLimits, cpu_seconds: float) -> tuple[bool, str]:
    """(stopped by a kernel limit, reason) for a worker that died without a word: a run a
    kernel limit stopped fails (it would fail again); any other death loses the attempt.
    `cpu_seconds` is the run's CPU time when last seen: a strategy that ignores SIGXCPU dies
    of the hard limit's SIGKILL just after the soft one."""
    how = describe_exit(worker.popen.poll(), worker.sandboxed)
    if worker.oom_killed():
        return True, f"the run exceeded its memory limit of {limits.memory_mb} MB ({how})"
    if how.startswith("killed by SIGXCPU") or (
        how == "killed by SIGKILL" and cpu_seconds >= limits.cpu_limit - 1
    ):
        return True, f"the run exceeded its CPU time limit of {limits.cpu_limit} s ({how})"
    if how.startswith("killed by SIGXFSZ"):
        return True, f"the run wrote a file over the size limit ({how})"
    return False, f"worker process {worker.pid} died ({how})"
