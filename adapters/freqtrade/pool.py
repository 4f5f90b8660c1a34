"""The local worker pool: N slots, each running one sandboxed freqtrade process per run.

A worker process serves exactly one run (nothing of one researcher's code outlives it), but it
is started and warmed up (freqtrade imported, ~3 s) before its run arrives: each slot keeps one
warm standby, and starts the next one while a run goes on. The slot's thread supervises the
run: wall-time and memory limits over the whole process tree, a process-count guard, cancel,
and a worker that died. Everything the worker sends is untrusted (protocol.py).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from uuid import UUID

import structlog

from adapters.freqtrade import protocol
from adapters.freqtrade.cgroups import Cgroups
from adapters.freqtrade.limits import RunLimits
from adapters.freqtrade.progress import ProgressCoalescer
from adapters.freqtrade.run_files import RefusedFiles, check_result
from adapters.freqtrade.sandbox import Sandbox
from adapters.freqtrade.supervision import died, over_limits
from adapters.freqtrade.worker_process import WorkerDidNotStart, WorkerProcess
from adapters.market_data import MarketData, MarketDataError, candle_name
from projections.execution_ports import RunListener, RunOutput, RunSpec

log = logging.getLogger(__name__)
_MAX_REASON_CHARS = 4000
CHECK_SECONDS = 0.2  # how often the supervisor checks a run's limits, whatever it sends
__all__ = ["LocalWorkerPool", "RunLimits"]


class _Slot:
    """One place to run: the thread that keeps a warm worker and supervises its run."""

    def __init__(self, pool: LocalWorkerPool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.job_id: UUID | None = None
        self.worker: WorkerProcess | None = None
        self.cancelled = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"worker-slot-{index}", daemon=True)

    def _loop(self) -> None:
        standby: WorkerProcess | None = None
        while not self.pool.stopping.is_set():
            try:
                if standby is None or not standby.alive():
                    if standby is not None:
                        standby.kill()
                        standby.remove()
                    standby = self.pool.new_worker()
                task = self.pool.tasks.get(timeout=0.5)
            except queue.Empty:
                continue
            except Exception:
                log.exception("worker slot %s could not start a worker; retrying", self.index)
                standby = None
                self.pool.stopping.wait(2.0)
                continue
            if task is None:
                break
            spec, listener = task
            worker, standby = standby, None
            try:
                standby = self._start_standby(spec)  # warms up while this run goes on
                self._execute(worker, spec, listener)
            finally:
                self.job_id, self.worker = None, None
                self.cancelled.clear()
                self.pool.release()
        if standby is not None:
            standby.kill()
            standby.remove()

    def _start_standby(self, like: RunSpec) -> WorkerProcess | None:
        try:
            return self.pool.new_worker(like)
        except Exception:
            log.exception("worker slot %s could not start its next worker", self.index)
            return None

    def _execute(self, worker: WorkerProcess, spec: RunSpec, listener: RunListener) -> None:
        # Every line logged for the run (here and in the listener) names its job and attempt.
        with structlog.contextvars.bound_contextvars(job_id=str(spec.job_id), attempt=spec.attempt):
            self._supervise(worker, spec, listener)

    def _supervise(self, worker: WorkerProcess, spec: RunSpec, listener: RunListener) -> None:
        self.job_id, self.worker = spec.job_id, worker
        if spec.job_id in self.pool.take_cancel(spec.job_id):
            self.cancelled.set()
        try:
            if self.cancelled.is_set():
                listener.on_cancelled(spec)
                return
            worker.hurry()
            if not self._sync_market_data(spec, listener):
                return
            worker.wait_ready(self.pool.stopping)
            worker.send(protocol.Run(spec))
            self._watch(worker, spec, listener)
        except WorkerDidNotStart as error:
            listener.on_lost(spec, str(error))
        except Exception:
            log.exception("job %s: the supervisor failed", spec.job_id)
            listener.on_lost(spec, "the worker's supervisor failed")
        finally:
            worker.kill()
            if not self.pool.keep_workdirs:
                worker.remove()

    def _sync_market_data(self, spec: RunSpec, listener: RunListener) -> bool:
        """Make the candles of the run local (S3 data into its cache) while the worker warms
        up, here outside the sandbox: the sandbox has no network and binds the cache read-only.
        False when the run ended here (the data could not be fetched, or a cancel came)."""
        if self.pool.market_data is None:
            return True
        try:
            self.pool.market_data.sync(spec.exchange, spec.pairs, spec.timeframe)
        except MarketDataError as error:
            listener.on_failed(spec, str(error)[:_MAX_REASON_CHARS])
            return False
        if self.cancelled.is_set():
            listener.on_cancelled(spec)
            return False
        return True

    def _watch(self, worker: WorkerProcess, spec: RunSpec, listener: RunListener) -> None:
        """Until the run ends: its messages as they come, and its limits on a timer of its own,
        however many messages the worker sends (a strategy can speak the protocol itself)."""
        deadline = time.monotonic() + self.pool.limits.wall_seconds
        progress = ProgressCoalescer(lambda phase, f: listener.on_progress(spec, phase, f))
        next_check, dead = 0.0, False
        cpu_start = cpu_used = worker.cpu_seconds()
        while True:
            now = time.monotonic()
            if now >= next_check:
                next_check = now + CHECK_SECONDS
                progress.flush()
                dead = not worker.alive()
                cpu_used = cpu_used if dead else worker.cpu_seconds()
                over = None if dead else over_limits(worker, self.pool.limits, deadline)
                if over:
                    worker.kill()
                    listener.on_failed(spec, over)
                    return
            try:
                message = worker.receive()
            except ValueError as error:
                worker.kill()
                listener.on_failed(spec, str(error))
                return
            if message is None and dead:  # what it sent before it died is read first
                stopped, reason = died(worker, self.pool.limits, cpu_used - cpu_start)
                if stopped:  # by a kernel limit: it would fail again
                    listener.on_failed(spec, reason)
                else:
                    listener.on_lost(spec, reason)
                return
            if self.cancelled.is_set() and not isinstance(message, protocol.Done | protocol.Failed):
                worker.kill()  # progress after a cancel request is not reported: it is over
                listener.on_cancelled(spec)
                return
            if isinstance(message, protocol.Progress):
                progress.offer(message.phase, message.fraction)
            elif isinstance(message, protocol.Done):
                worker.kill()  # nothing may change the files once they are checked
                try:
                    files = worker.take_files(message.files)
                    check_result(files["result"], self.pool.limits.max_trades)
                except RefusedFiles as error:
                    listener.on_failed(spec, str(error)[:_MAX_REASON_CHARS])
                    return
                progress.flush(force=True)
                listener.on_completed(spec, RunOutput(summary=message.summary, files=files))
                return
            elif isinstance(message, protocol.Failed):
                listener.on_failed(spec, message.reason[:_MAX_REASON_CHARS])
                return


class LocalWorkerPool:
    """The `local` executor: runs on this machine, `size` at a time, each run sandboxed."""

    def __init__(
        self,
        size: int,
        work_root: Path,
        market_data_dir: Path,
        *,
        sandbox: Sandbox | None = None,
        offline_markets: bool = True,
        limits: RunLimits | None = None,
        keep_workdirs: bool = False,
        market_data: MarketData | None = None,
        candle_cache_mb: int = 0,
    ) -> None:
        """`market_data_dir` is the local directory the runs read candles from (bound into the
        sandbox); `market_data`, when given, is synced into it before each run."""
        self._size = size
        self.work_root = work_root
        self.market_data = market_data
        self.sandbox = sandbox or Sandbox.create("bubblewrap", market_data_dir)
        self.offline_markets = offline_markets
        self.limits = limits or RunLimits()
        # Per-run control groups where this host offers them (root with v1, or delegated v2).
        self.cgroups = Cgroups.detect() if self.sandbox.sandboxed else Cgroups()
        self.keep_workdirs = keep_workdirs
        self.candle_cache_mb = candle_cache_mb  # a standby preloads its slot's last candles
        self.tasks: queue.Queue[tuple[RunSpec, RunListener] | None] = queue.Queue()
        self.slots = threading.BoundedSemaphore(size)
        self.stopping = threading.Event()
        self._slots: list[_Slot] = []
        self._cancels: set[UUID] = set()
        self._lock = threading.Lock()
        self._workers_started = 0
        self._busy = 0  # slots reserved or running

    @property
    def size(self) -> int:
        return self._size

    @property
    def busy(self) -> int:
        return self._busy

    @property
    def sandbox_description(self) -> str:
        """The sandbox and the kernel limits in force (the start-up log and /ready say it)."""
        if not self.sandbox.sandboxed:
            return self.sandbox.describe()
        return f"{self.sandbox.describe()}, {self.cgroups.describe()}"

    def next_worker_number(self) -> int:
        """A number for each worker process started (its sandbox uid derives from it)."""
        with self._lock:
            self._workers_started += 1
            return self._workers_started

    def new_worker(self, like: RunSpec | None = None) -> WorkerProcess:
        """A worker warming up; with `like`, it also preloads that run's candles (the next
        run of a slot is often the next trial of the same sweep, on the same data)."""
        preload = []
        if like is not None and self.candle_cache_mb > 0:
            preload = [candle_name(like.exchange, pair, like.timeframe) for pair in like.pairs]
        return WorkerProcess(
            self.sandbox,
            self.work_root,
            self.next_worker_number(),
            offline_markets=self.offline_markets,
            preload=preload,
            preload_budget_mb=self.candle_cache_mb,
            limits=self.limits,
            cgroups=self.cgroups,
        )

    def start(self) -> None:
        # The work root holds every run's directory: only the service may list it.
        self.work_root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.work_root.chmod(0o711)  # runs reach their own directory by its full path
        log.info("strategy runs: %s", self.sandbox_description)
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
        if not self.slots.acquire(timeout=timeout):
            return False
        with self._lock:
            self._busy += 1
        return True

    def release(self) -> None:
        with self._lock:
            self._busy -= 1
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

    def busy_pid(self, job_id: UUID) -> int | None:
        """The host pid of the interpreter running `job_id` here, if any."""
        for slot in self._slots:
            if slot.job_id == job_id and slot.worker is not None and slot.worker.ready:
                return slot.worker.pid
        return None
