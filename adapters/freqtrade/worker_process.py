"""One worker process in its sandbox, for one run: started and warmed up before its run
arrives, spoken to in protocol.py's messages (everything it sends is untrusted), and killed
with its whole process tree when the run ends."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path

import msgspec

from adapters.freqtrade import protocol, seccomp_filter
from adapters.freqtrade.cgroups import Cgroups, RunCgroup
from adapters.freqtrade.limits import RunLimits
from adapters.freqtrade.process_tree import describe_exit, tree_pids
from adapters.freqtrade.run_files import take_files
from adapters.freqtrade.sandbox import Sandbox, clean_environment

log = logging.getLogger(__name__)
POLL_SECONDS = 0.2
_WARM_UP_SECONDS = 180.0
_STANDBY_NICENESS = 10
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class WorkerDidNotStart(RuntimeError):
    pass


class WorkerProcess:
    """One worker process (in its sandbox) and its private run directory."""

    def __init__(
        self,
        sandbox: Sandbox,
        work_root: Path,
        number: int,
        *,
        offline_markets: bool,
        preload: list[str] | None = None,
        preload_budget_mb: int = 0,
        limits: RunLimits | None = None,
        cgroups: Cgroups | None = None,
    ) -> None:
        """Start worker `number` (its sandbox uid derives from it) in a fresh run directory,
        in control groups of its own where `cgroups` can make them."""
        limits = limits or RunLimits()
        self.run_dir = work_root / f"run-{uuid.uuid4().hex}"
        self.log_path = work_root / f"{self.run_dir.name}.log"
        self.outbox = work_root / f"{self.run_dir.name}.out"  # the files taken from the run
        sandbox.prepare(self.run_dir, number)
        ours, theirs = socket.socketpair()
        seccomp = seccomp_filter.filter_fd() if sandbox.sandboxed else None
        # Standbys warm up (import freqtrade, ~2 s of CPU) while other runs go on: at a low
        # priority, so those go first; hurry() restores it when the run begins.
        command = [
            "nice", "-n", str(_STANDBY_NICENESS),
            *sandbox.command(
                self.run_dir, number, theirs.fileno(), offline_markets, limits, seccomp
            ),
        ]  # fmt: skip
        if preload and preload_budget_mb > 0:  # candle files' names, chosen by the pool
            command += ["--preload-budget-mb", str(preload_budget_mb)]
            for name in preload:
                command += ["--preload", name]
        self.cgroup: RunCgroup | None = None
        if cgroups is not None and sandbox.sandboxed:
            self.cgroup = cgroups.create(self.run_dir.name, limits)
        if self.cgroup is not None:
            command = self.cgroup.command(command)
        fds = (theirs.fileno(),) if seccomp is None else (theirs.fileno(), seccomp)
        with self.log_path.open("wb") as log_file:
            self.popen = subprocess.Popen(
                command,
                pass_fds=fds,
                env=clean_environment(self.run_dir),  # bubblewrap clears it again inside
                cwd=self.run_dir,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                start_new_session=True,  # a signal for the API's process group is not theirs
            )
        theirs.close()
        if seccomp is not None:
            os.close(seccomp)
        self.conn = Connection(ours.detach())
        self.sandboxed = sandbox.sandboxed
        self.ready = False
        self.pid = self.popen.pid

    def wait_ready(self, stopping: threading.Event) -> None:
        deadline = time.monotonic() + _WARM_UP_SECONDS
        while not self.ready and time.monotonic() < deadline and not stopping.is_set():
            message = self.receive()
            if isinstance(message, protocol.Ready):
                self.ready = True
                self.pid = self._python_pid()
                return
            if message is not None or not self.alive():
                break
        raise WorkerDidNotStart(
            f"the worker did not start ({describe_exit(self.popen.poll(), self.sandboxed)}): "
            f"{self._log_tail()}"
        )

    def receive(self) -> protocol.FromWorker | None:
        """The next message, None when there is none yet; raises ValueError on garbage."""
        try:
            if not self.conn.poll(POLL_SECONDS):
                return None
            data = self.conn.recv_bytes(protocol.MAX_MESSAGE_BYTES)
        except (EOFError, OSError):
            time.sleep(0.05)  # the process is going away; the liveness check reports it
            return None
        try:
            return protocol.decode_from_worker(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            raise ValueError(
                f"the worker sent a message that is not part of the protocol: {error}"
            ) from None

    def send(self, message: protocol.Run) -> None:
        self.conn.send_bytes(protocol.encode(message))

    def hurry(self) -> None:
        """Back to normal priority for its run (it warmed up at low priority, so as not to slow
        the runs going on); only root may raise a priority again, elsewhere it stays low."""
        for pid in tree_pids(self.popen.pid):
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, pid, 0)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole tree: bubblewrap's pid namespace takes every process with it
        (its init dies); unsandboxed, the worker's session is killed as a group."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        for pid in reversed(tree_pids(self.popen.pid)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            log.error("worker %s did not die within 10 s of SIGKILL", self.popen.pid)
        self.conn.close()
        if self.cgroup is not None:
            self.cgroup.remove()

    def remove(self) -> None:
        shutil.rmtree(self.run_dir, ignore_errors=True)
        shutil.rmtree(self.outbox, ignore_errors=True)
        self.log_path.unlink(missing_ok=True)

    def take_files(self, named: dict[str, str]) -> dict[str, str]:
        """Copies of the files the (dead) worker named, checked (run_files.py); raises
        run_files.RefusedFiles."""
        return take_files(self.run_dir, named, self.outbox)

    def oom_killed(self) -> bool:
        """The kernel killed a process of the run for its memory (its cgroup's limit)."""
        return self.cgroup is not None and self.cgroup.oom_kills() > 0

    def cpu_seconds(self) -> float:
        """CPU time of the run's interpreter so far (the process the CPU rlimit is set in)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime
        except (OSError, ValueError, IndexError):
            return 0.0

    def tmp_bytes(self) -> int:
        """What the run keeps in its /tmp (RAM that no process's resident size shows); 0 when
        unknown (the tmpfs's own size cap still bounds it)."""
        if not (self.sandboxed and self.ready):
            return 0
        try:
            fs = os.statvfs(f"/proc/{self.pid}/root/tmp")
        except OSError:
            return 0
        return (fs.f_blocks - fs.f_bfree) * fs.f_frsize

    def _python_pid(self) -> int:
        """The interpreter's host pid (bubblewrap's own processes sit above it)."""
        pids = tree_pids(self.popen.pid)
        return pids[-1] if pids else self.popen.pid

    def _log_tail(self) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip()
        except OSError:
            return "no log"
        return text[-1000:] or "no output"
