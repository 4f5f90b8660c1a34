"""Find a sandboxed worker process from outside, the way an operator would: by its run."""

from __future__ import annotations

import time
from pathlib import Path


def worker_pid_running(strategy: str, timeout: float = 60) -> int:
    """The host pid of the interpreter whose run directory holds `strategy`'s source.

    The sandbox hides the host's pids from the strategy, so tests cannot ask it; they look at
    /proc instead: the worker's working directory is its run directory.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
                cwd = (proc / "cwd").resolve()
            except OSError:
                continue
            if not Path(argv[0].decode()).name.startswith("python"):
                continue
            if b"adapters.freqtrade.worker" not in argv:
                continue
            if (cwd / "strategies" / f"{strategy}.py").exists():
                return int(proc.name)
        time.sleep(0.05)
    raise AssertionError(f"no worker is running {strategy}")
