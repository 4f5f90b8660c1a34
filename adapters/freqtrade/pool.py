"""The local worker pool: N freqtrade worker processes supervised by one thread each.

Each worker keeps freqtrade imported between runs (a run does not pay the ~3 s import). The
supervisor enforces the run's wall-time and memory limits, stops a run on cancel, and notices
a worker that died; a stopped or dead worker is replaced by a fresh one.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec

from adapters.freqtrade import worker
from projections.execution_ports import RunListener, RunOutput, RunSpec

log = logging.getLogger(__name__)
_POLL_SECONDS = 0.2
_WARM_UP_SECONDS = 180.0


@dataclass(frozen=True)
class RunLimits:
    """What one run may use before it is stopped and failed."""

    wall_seconds: float = 900.0
    memory_mb: int = 3072


class _Stop(Exception):
    pass


class _Slot:
    """One worker process and the thread that feeds and watches it."""

    def __init__(self, pool: LocalWorkerPool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.process: BaseProcess | None = None
        self.conn: Connection | None = None
        self.job_id: UUID | None = None
        self.cancelled = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"worker-slot-{index}", daemon=True)

    def _spawn(self) -> None:
        parent, child = self.pool.context.Pipe()
        process = self.pool.context.Process(
            target=worker.main,
            args=(child, self.pool.worker_options),
            name=f"tradai-worker-{self.index}",
            daemon=True,
        )
        process.start()
        child.close()
        deadline = time.monotonic() + _WARM_UP_SECONDS
        while time.monotonic() < deadline and not self.pool.stopping.is_set():
            if parent.poll(_POLL_SECONDS):
                message = parent.recv()
                if message[0] == "ready":
                    self.process, self.conn = process, parent
                    return
            if not process.is_alive():
                break
        process.kill()
        process.join(5)
        raise RuntimeError(f"worker {self.index} did not start (exit code {process.exitcode})")

    def _kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.join(5)
        if self.conn is not None:
            self.conn.close()
        self.process, self.conn = None, None

    def _loop(self) -> None:
        while not self.pool.stopping.is_set():
            try:
                if self.process is None or not self.process.is_alive():
                    self._kill()
                    self._spawn()
                task = self.pool.tasks.get(timeout=0.5)
            except queue.Empty:
                continue
            except Exception:
                log.exception("worker slot %s could not start a worker; retrying", self.index)
                self.pool.stopping.wait(2.0)
                continue
            if task is None:
                break
            spec, listener = task
            try:
                self._execute(spec, listener)
            finally:
                self.job_id = None
                self.cancelled.clear()
                self.pool.slots.release()
        self._shutdown()

    def _shutdown(self) -> None:
        if self.conn is not None and self.process is not None and self.process.is_alive():
            try:
                self.conn.send(None)
                self.process.join(2)
            except (OSError, ValueError):
                pass
        self._kill()

    def _execute(self, spec: RunSpec, listener: RunListener) -> None:
        self.job_id = spec.job_id
        if spec.job_id in self.pool.take_cancel(spec.job_id):
            self.cancelled.set()
        workdir = self.pool.work_root / f"{spec.job_id}-{spec.attempt}"
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        try:
            self._watch(spec, listener, workdir)
        except Exception:
            log.exception("job %s: the supervisor failed", spec.job_id)
            self._kill()
            listener.on_lost(spec, "the worker's supervisor failed")
        finally:
            if not self.pool.keep_workdirs:
                shutil.rmtree(workdir, ignore_errors=True)

    def _watch(self, spec: RunSpec, listener: RunListener, workdir: Path) -> None:
        assert self.conn is not None and self.process is not None
        limits = self.pool.limits
        pid = self.process.pid
        if self.cancelled.is_set():
            listener.on_cancelled(spec)
            return
        self.conn.send((msgspec.json.encode(spec), str(workdir)))
        deadline = time.monotonic() + limits.wall_seconds
        while True:
            message = self._receive()
            if message is not None:
                kind = message[0]
                if kind == "progress":
                    listener.on_progress(spec, message[1], message[2])
                    continue
                if kind == "done":
                    listener.on_completed(spec, msgspec.json.decode(message[1], type=RunOutput))
                    return
                if kind == "failed":
                    listener.on_failed(spec, message[1])
                    return
            if self.cancelled.is_set():
                self._kill()
                listener.on_cancelled(spec)
                return
            if self.process is None or not self.process.is_alive():
                code = self.process.exitcode if self.process is not None else None
                self._kill()
                listener.on_lost(spec, f"worker process {pid} died ({_describe_exit(code)})")
                return
            if time.monotonic() > deadline:
                self._kill()
                listener.on_failed(
                    spec, f"the run exceeded its time limit of {limits.wall_seconds:.0f} s"
                )
                return
            rss = _rss_mb(pid)
            if rss is not None and rss > limits.memory_mb:
                self._kill()
                listener.on_failed(
                    spec,
                    f"the run exceeded its memory limit ({rss:.0f} MB > {limits.memory_mb} MB)",
                )
                return

    def _receive(self) -> tuple[Any, ...] | None:
        assert self.conn is not None
        try:
            if self.conn.poll(_POLL_SECONDS):
                message: tuple[Any, ...] = self.conn.recv()
                return message
        except (EOFError, OSError):
            time.sleep(0.05)  # the process is going away; the liveness check reports it
        return None


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "no exit code"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _rss_mb(pid: int | None) -> float | None:
    """Resident memory of a process in MB (Linux /proc), None when it cannot be read."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class LocalWorkerPool:
    """The `local` executor: runs on this machine, `size` at a time."""

    def __init__(
        self,
        size: int,
        work_root: Path,
        market_data_dir: Path,
        *,
        offline_markets: bool = True,
        limits: RunLimits | None = None,
        keep_workdirs: bool = False,
    ) -> None:
        self._size = size
        self.work_root = work_root
        self.limits = limits or RunLimits()
        self.keep_workdirs = keep_workdirs
        self.worker_options = {
            "market_data_dir": str(market_data_dir),
            "offline_markets": offline_markets,
        }
        self.context = multiprocessing.get_context("spawn")
        self.tasks: queue.Queue[tuple[RunSpec, RunListener] | None] = queue.Queue()
        self.slots = threading.BoundedSemaphore(size)
        self.stopping = threading.Event()
        self._slots: list[_Slot] = []
        self._cancels: set[UUID] = set()
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return self._size

    def start(self) -> None:
        self.work_root.mkdir(parents=True, exist_ok=True)
        self._slots = [_Slot(self, i) for i in range(self._size)]
        for slot in self._slots:
            slot.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for slot in self._slots:
            slot.cancelled.set()
        for _ in self._slots:
            self.tasks.put(None)
        for slot in self._slots:
            slot.thread.join(15)

    def acquire(self, timeout: float) -> bool:
        return self.slots.acquire(timeout=timeout)

    def release(self) -> None:
        self.slots.release()

    def run(self, spec: RunSpec, listener: RunListener) -> None:
        self.tasks.put((spec, listener))

    def cancel(self, job_id: UUID) -> bool:
        for slot in self._slots:
            if slot.job_id == job_id:
                slot.cancelled.set()
                return True
        with self._lock:  # not picked up yet: the slot that takes it stops at once
            self._cancels.add(job_id)
        return False

    def take_cancel(self, job_id: UUID) -> set[UUID]:
        with self._lock:
            if job_id in self._cancels:
                self._cancels.discard(job_id)
                return {job_id}
        return set()

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (for operators and tests)."""
        return [s.process.pid for s in self._slots if s.process is not None and s.process.pid]

    def busy_pid(self, job_id: UUID) -> int | None:
        """The pid of the worker running `job_id` here, if any."""
        for slot in self._slots:
            if slot.job_id == job_id and slot.process is not None:
                return slot.process.pid
        return None
