"""A control group per worker process, where the host lets the service make one.

The kernel then bounds the whole run, whatever the strategy does: its memory (the run's /tmp
is a tmpfs, whose pages are charged to the group that wrote them) and its number of processes.
cgroup v1 (memory and pids hierarchies mounted under /sys/fs/cgroup, as root) or v2 (a
delegated unified hierarchy with the memory and pids controllers); anywhere else nothing
(rlimits and the supervisor's checks still apply), and describe() says so.

A worker joins its group before bubblewrap starts (a shell prefix writes its own pid into the
group's cgroup.procs, then execs the rest), so every process of the run is born inside it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from adapters.freqtrade.limits import MAX_PROCESSES, RunLimits

log = logging.getLogger(__name__)
ROOT = Path("/sys/fs/cgroup")
GROUP = "tradai-runs"
# Writes its pid into each cgroup.procs named before `--`, then becomes the command after it.
_JOIN = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'


def _own_paths() -> dict[str, str]:
    """This process's cgroup path per controller ('' is the v2 hierarchy)."""
    paths: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                paths[controller] = path
    return paths


def _sweep(parent: Path) -> None:
    """Remove groups of runs long over (a service that died could not): only empty ones, made
    more than a minute ago (a group just made may be waiting for its worker to join)."""
    with contextlib.suppress(OSError):
        for group in parent.glob("run-*"):
            with contextlib.suppress(OSError):
                if time.time() - group.stat().st_mtime > 60 and not (
                    (group / "cgroup.procs").read_text().strip()
                ):
                    group.rmdir()


def _writable(path: Path) -> bool:
    return path.is_dir() and os.access(path, os.W_OK)


@dataclass(frozen=True)
class RunCgroup:
    """The groups of one worker process."""

    version: int
    dirs: tuple[Path, ...]
    memory: Path

    def command(self, command: list[str]) -> list[str]:
        """`command`, started inside the groups."""
        procs = [str(d / "cgroup.procs") for d in self.dirs]
        return ["/bin/sh", "-c", _JOIN, "sh", *procs, "--", *command]

    def oom_kills(self) -> int:
        """How often the kernel killed a process of the run for going over its memory."""
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        with contextlib.suppress(OSError, ValueError):
            for line in (self.memory / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0

    def remove(self) -> None:
        """Remove the (empty, once the run's processes are reaped) groups."""
        for directory in self.dirs:
            for _ in range(100):  # up to 5 s: a fork bomb's processes take a while to go
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)  # a process of the run is still being reaped
            else:
                log.warning("could not remove the control group %s", directory)


@dataclass(frozen=True)
class Cgroups:
    """Where this host lets the service make per-run groups: version 0 means nowhere."""

    version: int = 0
    memory_parent: Path | None = None
    pids_parent: Path | None = None

    @classmethod
    def detect(cls) -> Cgroups:
        own = _own_paths()
        if (ROOT / "cgroup.controllers").exists():  # the unified hierarchy is mounted at ROOT
            base = ROOT / own.get("", "/").lstrip("/")
            parent = base / GROUP
            try:
                parent.mkdir(exist_ok=True)
                (parent / "cgroup.subtree_control").write_text("+memory +pids")
            except OSError as error:
                log.info("cgroup v2 not delegated here (%s): no per-run groups", error)
                return cls()
            _sweep(parent)
            return cls(2, parent, parent)
        memory = ROOT / "memory" / own.get("memory", "/").lstrip("/")
        pids = ROOT / "pids" / own.get("pids", "/").lstrip("/")
        if _writable(memory) and _writable(pids):
            try:
                (memory / GROUP).mkdir(exist_ok=True)
                (pids / GROUP).mkdir(exist_ok=True)
            except OSError as error:
                log.info("cgroup v1 not writable here (%s): no per-run groups", error)
                return cls()
            _sweep(memory / GROUP)
            _sweep(pids / GROUP)
            return cls(1, memory / GROUP, pids / GROUP)
        return cls()

    def describe(self) -> str:
        return f"cgroup v{self.version} memory and pids" if self.version else "no cgroups"

    def create(self, name: str, limits: RunLimits) -> RunCgroup | None:
        """The groups of one worker, with the run's limits; None where there are none."""
        if not self.version or self.memory_parent is None or self.pids_parent is None:
            return None
        memory, pids = self.memory_parent / name, self.pids_parent / name
        made: list[Path] = []
        try:
            for directory in dict.fromkeys((memory, pids)):
                directory.mkdir()
                made.append(directory)
            if self.version == 1:
                (memory / "memory.limit_in_bytes").write_text(str(limits.memory_bytes))
                with contextlib.suppress(OSError):  # only where swap accounting is on
                    (memory / "memory.memsw.limit_in_bytes").write_text(str(limits.memory_bytes))
            else:
                (memory / "memory.max").write_text(str(limits.memory_bytes))
                with contextlib.suppress(OSError):
                    (memory / "memory.swap.max").write_text("0")
            (pids / "pids.max").write_text(str(MAX_PROCESSES))
        except OSError as error:
            log.warning("could not set up the run's control group %s: %s", name, error)
            group = RunCgroup(self.version, tuple(made), memory)
            group.remove()
            return None
        return RunCgroup(self.version, tuple(made), memory)
