"""The executor: a subscriber that runs submitted jobs on a worker pool and reports back.

Three parts work together:
- the dispatcher reads the log from its own recorded position and puts each job of a Submitted,
  Requeued or RetryRequested event into a fair queue (projections/fair_queue.py: priority, then
  round-robin across submitters and their sweeps). Its own thread takes the next job whenever
  a slot is free, claims it (a Started event: one claimant wins) and starts the run. The
  recorded position stays before the oldest job still waiting, so a restart reads those events
  again and nothing waiting is lost;
- the cancel watcher follows the log from its head and stops local runs that were cancelled
  (it never waits for slots, so a cancel is not stuck behind queued jobs);
- the lease keeper renews leases of local runs and settles runs elsewhere whose lease ran out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from uuid import UUID

from commands.execution import ExecutionCommands
from commands.store import EventStore, StoredEvent
from commands.views import BacktestJobView
from domain.backtest_job import WAITING_STATUSES, BacktestJob
from domain.identity import strategy_version_id
from domain.strategy_version import StrategyVersion
from projections.execution_ports import RunOutput, RunSpec, WorkerPool
from projections.fair_queue import FairQueue, Waiting
from projections.ports import ArtifactStore, PositionStore, ReadModelQueries

log = logging.getLogger(__name__)


class Executor:
    """Dispatches jobs to a pool and turns what the pool reports into commands."""

    name = "executor"

    def __init__(
        self,
        store: EventStore,
        commands: ExecutionCommands,
        pool: WorkerPool,
        artifacts: ArtifactStore,
        positions: PositionStore,
        *,
        worker_name: str,
        lease_seconds: float = 30.0,
        max_attempts: int = 2,
    ) -> None:
        self.store = store
        self.commands = commands
        self.pool = pool
        self.artifacts = artifacts
        self.positions = positions
        self.worker_name = worker_name
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts
        self.running: dict[UUID, int] = {}  # job id -> attempt, of runs in this process
        self.waiting = FairQueue()
        self._waiting_since: dict[UUID, int] = {}  # job id -> position of the event it waits by
        # Events up to here were written before this process started: their jobs may have run
        # since, so each is checked before it waits again.
        self._replayed_until = store.max_position()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._dispatcher: threading.Thread | None = None

    # --- the dispatcher (a Subscriber) -------------------------------------------------------

    def position(self) -> int:
        return self.positions.position(self.name)

    def handle(self, events: Sequence[StoredEvent], after: int) -> None:
        self._start_dispatching()
        for stored in events:
            event = stored.event
            if isinstance(event, BacktestJob.Submitted):
                waiting = Waiting(
                    event.originator_id, event.submitted_by, event.priority, event.sweep_id
                )
                self._wait(waiting, stored.position, check=stored.position <= self._replayed_until)
            elif isinstance(event, BacktestJob.Requeued | BacktestJob.RetryRequested):
                self._wait_again(event.originator_id, stored.position)
            elif isinstance(event, BacktestJob.CancelRequested):
                self._forget(event.originator_id)
        if events:
            with self._lock:
                oldest = min(self._waiting_since.values(), default=None)
            last = events[-1].position
            self.positions.save_position(
                self.name, last if oldest is None else min(last, oldest - 1)
            )

    def _wait(self, waiting: Waiting, position: int, *, check: bool) -> None:
        if check:
            job = self.commands.load(waiting.job_id)
            if job is None or job.status not in WAITING_STATUSES:
                return
        with self._lock:
            self._waiting_since.setdefault(waiting.job_id, position)
        self.waiting.put(waiting)

    def _wait_again(self, job_id: UUID, position: int) -> None:
        job = self.commands.load(job_id)
        if job is None or job.status not in WAITING_STATUSES:
            return
        self._wait(
            Waiting(job_id, job.submitted_by, job.priority, job.sweep_id), position, check=False
        )

    def _forget(self, job_id: UUID) -> None:
        self.waiting.discard(job_id)
        with self._lock:
            self._waiting_since.pop(job_id, None)

    def _start_dispatching(self) -> None:
        if self._dispatcher is None:
            self._dispatcher = threading.Thread(
                target=self._dispatch_forever, name=f"dispatch-{self.worker_name}", daemon=True
            )
            self._dispatcher.start()

    def _dispatch_forever(self) -> None:
        """Whenever a job waits and a slot is free: the fairest job gets the slot."""
        while not self._stopping.is_set():
            if not self.waiting.wait_for_job(0.5):
                continue
            if not self.pool.acquire(timeout=0.5):
                continue
            waiting = self.waiting.take(0)
            if waiting is None:  # cancelled meanwhile
                self.pool.release()
                continue
            try:
                self._dispatch(waiting.job_id)
            except Exception:
                log.exception("dispatching job %s failed; it waits again", waiting.job_id)
                self.waiting.put(waiting)
                self._stopping.wait(1.0)
            else:
                with self._lock:
                    self._waiting_since.pop(waiting.job_id, None)

    def _dispatch(self, job_id: UUID) -> None:
        """Claim and start `job_id` on the slot the caller acquired."""
        try:
            job = self.commands.claim(job_id, self.worker_name, self.lease_seconds)
            if job is None:  # cancelled, finished, or claimed by another executor
                self.pool.release()
                return
            spec = self._spec(job)
        except Exception:
            self.pool.release()
            raise
        if spec is None:
            self.pool.release()
            return
        with self._lock:
            self.running[job_id] = spec.attempt
        log.info(
            "job %s attempt %s starts on %s",
            job_id,
            spec.attempt,
            self.worker_name,
            extra={"job_id": str(job_id), "attempt": spec.attempt},
        )
        self.pool.run(spec, self)

    def _spec(self, job: BacktestJob) -> RunSpec | None:
        spec = run_spec(self.store, job)
        if spec is None:
            self.commands.fail(
                job.id, job.attempt, "the strategy version's code is missing or changed"
            )
        return spec

    # --- what the pool reports (a RunListener) -----------------------------------------------

    def on_progress(self, spec: RunSpec, phase: str, fraction: float) -> None:
        self.commands.report_progress(spec.job_id, spec.attempt, phase, fraction)

    def on_completed(self, spec: RunSpec, output: RunOutput) -> None:
        try:
            keys = {
                name: self.artifacts.put_file(f"{spec.job_id}/{spec.attempt}/{name}", path)
                for name, path in output.files.items()
            }
        except OSError as error:
            self._finish(spec)
            self.commands.fail(spec.job_id, spec.attempt, f"could not store the results: {error}")
            return
        self._finish(spec)
        self.commands.complete(spec.job_id, spec.attempt, output.summary, keys)

    def on_failed(self, spec: RunSpec, reason: str) -> None:
        self._finish(spec)
        self.commands.fail(spec.job_id, spec.attempt, reason)

    def on_lost(self, spec: RunSpec, reason: str) -> None:
        self._finish(spec)
        self.commands.lose_attempt(spec.job_id, spec.attempt, reason, self.max_attempts)

    def on_cancelled(self, spec: RunSpec) -> None:
        self._finish(spec)
        self.commands.confirm_cancel(spec.job_id, spec.attempt)

    def _finish(self, spec: RunSpec) -> None:
        with self._lock:
            self.running.pop(spec.job_id, None)

    # --- leases --------------------------------------------------------------------------------

    def keep_leases(self, read_model: ReadModelQueries) -> None:
        """Renew the leases of local runs; settle running jobs elsewhere whose lease ran out."""
        with self._lock:
            local = dict(self.running)
        for job_id, attempt in local.items():
            self.commands.renew_lease(job_id, attempt, self.lease_seconds)
        now = self.commands.clock()
        cursor = None
        while True:
            page = read_model.list_jobs(status="running", strategy=None, limit=200, cursor=cursor)
            for view in page.items:
                if not isinstance(view, BacktestJobView):
                    continue
                expiry = view.lease_expires_at
                if view.id in local or expiry is None or expiry >= now:
                    continue
                if self.commands.reap(view.id, self.max_attempts):
                    log.warning("job %s: lease expired, attempt settled", view.id)
            cursor = page.next_cursor
            if cursor is None:
                break

    def stop(self) -> None:
        """Stop dispatching, and hand the jobs running here back to the queue: they run again
        after the restart (the pool's own stop then ends the worker processes)."""
        self._stopping.set()
        if self._dispatcher is not None:
            self._dispatcher.join(5)
        with self._lock:
            local = dict(self.running)
            self.running.clear()
        for job_id, attempt in local.items():
            self.commands.release(job_id, attempt, "the service stopped")


def run_spec(store: EventStore, job: BacktestJob) -> RunSpec | None:
    """The run of `job`'s current attempt, with the code of the version it names (checked
    against its hash); None when that code is missing or changed."""
    vid = strategy_version_id(job.strategy, job.strategy_version)
    version = store.load(vid, "strategy version") if store.exists(vid) else None
    if not isinstance(version, StrategyVersion) or version.code_sha256 != job.code_sha256:
        return None
    return RunSpec(
        job_id=job.id,
        attempt=job.attempt,
        strategy=job.strategy,
        code=version.code,
        code_sha256=version.code_sha256,
        pairs=job.pairs,
        timeframe=job.timeframe,
        timerange=job.timerange,
        exchange=job.exchange,
        stake_amount=job.stake_amount,
        max_open_trades=job.max_open_trades,
        starting_balance=job.starting_balance,
        fee=job.fee,
        parameters=dict(job.parameters),
    )


class CancelWatcher:
    """Follows the log from its head and stops local runs whose job got a cancel request."""

    name = "cancel-watcher"

    def __init__(self, pool: WorkerPool, head: int) -> None:
        self.pool = pool
        self._position = head

    def position(self) -> int:
        return self._position

    def handle(self, events: Sequence[StoredEvent], after: int) -> None:
        for stored in events:
            if isinstance(stored.event, BacktestJob.CancelRequested):
                self.pool.cancel(stored.event.originator_id)
        self._position = events[-1].position
