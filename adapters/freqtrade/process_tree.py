"""A worker's process tree, read from Linux /proc: its pids, their memory, how it ended."""

from __future__ import annotations

import signal
from pathlib import Path


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
    except (OSError, ValueError):
        pass
    return found


def tree_pids(root: int) -> list[int]:
    """`root` and all its descendants, parents before children (empty once it is gone)."""
    if not Path(f"/proc/{root}").exists():
        return []
    pids, index = [root], 0
    while index < len(pids):
        pids += [c for c in _children(pids[index]) if c not in pids]
        index += 1
    return pids


def memory_mb(pid: int) -> float:
    """A process's share of resident memory in MB: its proportional set size (pages shared with
    its forks counted once across them), or its resident size where PSS cannot be read; 0 when
    the process just ended."""
    for path, key in ((f"/proc/{pid}/smaps_rollup", "Pss:"), (f"/proc/{pid}/status", "VmRSS:")):
        try:
            with open(path) as status:
                for line in status:
                    if line.startswith(key):
                        return int(line.split()[1]) / 1024
        except (OSError, ValueError):
            continue
    return 0.0


def tree_memory_mb(root: int) -> tuple[float, int]:
    """Memory of the whole tree and the number of processes in it."""
    pids = tree_pids(root)
    return sum(memory_mb(p) for p in pids), len(pids)


def describe_exit(code: int | None, sandboxed: bool) -> str:
    """How a worker ended, in words; bubblewrap reports its child's death by signal N as 128+N."""
    if code is None:
        return "still running"
    if sandboxed and code > 128:
        code = -(code - 128)
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
