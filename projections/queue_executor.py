"""The `sqs` executor: jobs go to a queue that `tradai worker` processes on any machine read.

- the dispatcher follows the log from its recorded position and puts each job that was
  submitted or retried into a fair queue (projections/fair_queue.py: priority, then round-robin
  across submitters and their sweeps). It keeps at most `window` jobs sent and not yet claimed
  in the SQS queue (which serves in its own order); the next fairest job is sent when a worker
  claims one. Each send is recorded as a Dispatched event. A restart between the two sends the
  job again; the duplicate message is dropped by the claim (a job runs once per attempt), so
  nothing is lost and nothing floods. The recorded position stays before the oldest job not
  sent yet, so a restart reads its event again;
- the lease keeper settles running jobs whose worker stopped renewing the lease (the queue
  delivers their message again after its visibility timeout, and that delivery claims the
  next attempt);
- the dead-letter follower fails jobs whose message the queue moved to its dead-letter queue.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from uuid import UUID

from commands.execution import ExecutionCommands
from commands.remote_execution import RemoteExecution
from commands.store import EventStore, StoredEvent
from commands.views import BacktestJobView
from domain.backtest_job import WAITING_STATUSES, BacktestJob
from projections.execution_ports import JobMessage, JobQueue
from projections.fair_queue import FairQueue, Waiting
from projections.ports import PositionStore, ReadModelQueries

log = logging.getLogger(__name__)


# A job leaves the unclaimed ones when a worker claims it, or when it ends without a claim.
CLAIMED_OR_OVER = (
    BacktestJob.Started,
    BacktestJob.Completed,
    BacktestJob.Failed,
    BacktestJob.Cancelled,
)


class QueueExecutor:
    """Sends runnable jobs to a queue; settles lost leases and dead letters."""

    name = "queue-dispatcher"

    def __init__(
        self,
        store: EventStore,
        commands: ExecutionCommands,
        queue: JobQueue,
        positions: PositionStore,
        *,
        dead_letters: JobQueue | None = None,
        max_receives: int | None = None,
        window: int | None = None,
    ) -> None:
        self.store = store
        self.commands = commands
        self.remote = RemoteExecution(commands)
        self.queue = queue
        self.positions = positions
        self.dead_letters = dead_letters
        self.max_receives = max_receives
        self.window = window or None  # None: every waiting job is sent at once
        self.waiting = FairQueue()
        self._waiting_since: dict[UUID, int] = {}  # job id -> position of the event it waits by
        self.unclaimed: set[UUID] = set()  # sent, not claimed yet (as far as this process saw)
        # Events up to here were written before this process started: their jobs may have been
        # sent or run since, so each is checked against its job first.
        self._replayed_until = store.max_position()
        self._stopping = threading.Event()

    # --- the dispatcher (a Subscriber) -------------------------------------------------------

    def position(self) -> int:
        return self.positions.position(self.name)

    def handle(self, events: Sequence[StoredEvent], after: int) -> None:
        for stored in events:
            event, job_id = stored.event, stored.event.originator_id
            replayed = stored.position <= self._replayed_until
            if isinstance(event, BacktestJob.Submitted):
                waiting = Waiting(job_id, event.submitted_by, event.priority, event.sweep_id)
                self._wait(waiting, stored.position, check=replayed)
            elif isinstance(event, BacktestJob.RetryRequested):
                job = self.commands.load(job_id)
                if job is not None:
                    waiting = Waiting(job_id, job.submitted_by, job.priority, job.sweep_id)
                    self._wait(waiting, stored.position, check=True)
            elif isinstance(event, BacktestJob.Dispatched):
                self._forget(job_id)
                self.unclaimed.add(job_id)
            elif isinstance(event, BacktestJob.CancelRequested):
                self._forget(job_id)
            elif isinstance(event, CLAIMED_OR_OVER):
                self._forget(job_id)
                self.unclaimed.discard(job_id)
        self._send_what_fits()
        if events:
            oldest = min(self._waiting_since.values(), default=None)
            last = events[-1].position
            position = last if oldest is None else min(last, oldest - 1)
            self.positions.save_position(self.name, position)

    def _wait(self, waiting: Waiting, position: int, *, check: bool) -> None:
        if check:
            job = self.commands.load(waiting.job_id)
            if job is None or job.status not in WAITING_STATUSES or not job.needs_dispatch:
                return
        self._waiting_since.setdefault(waiting.job_id, position)
        self.waiting.put(waiting)

    def _forget(self, job_id: UUID) -> None:
        self.waiting.discard(job_id)
        self._waiting_since.pop(job_id, None)

    def _send_what_fits(self) -> None:
        """Send the fairest waiting jobs while fewer than `window` sent ones wait unclaimed."""
        while self.window is None or len(self.unclaimed) < self.window:
            waiting = self.waiting.take(0)
            if waiting is None:
                return
            try:
                sent = self.dispatch(waiting.job_id)
            except Exception:  # the runner retries the batch; the job waits for it
                self.waiting.put(waiting)
                raise
            self._waiting_since.pop(waiting.job_id, None)
            if sent:
                self.unclaimed.add(waiting.job_id)

    def dispatch(self, job_id: UUID) -> bool:
        """Send `job_id`'s next attempt to the queue and record it; False when it needs none."""
        job = self.commands.load(job_id)
        if job is None or not job.needs_dispatch:
            return False
        message_id = self.queue.send(JobMessage(job_id=job_id, attempt=job.attempt + 1))
        self.remote.dispatched(job_id, message_id)
        log.info("job %s sent to the queue as message %s", job_id, message_id)
        return True

    # --- leases --------------------------------------------------------------------------------

    def keep_leases(self, read_model: ReadModelQueries) -> None:
        """Requeue running jobs whose worker stopped renewing the lease. The limit on attempts
        is the queue's redrive policy, so none is applied here."""
        now = self.commands.clock()
        cursor = None
        while True:
            page = read_model.list_jobs(status="running", strategy=None, limit=200, cursor=cursor)
            for view in page.items:
                if not isinstance(view, BacktestJobView) or view.lease_expires_at is None:
                    continue
                if view.lease_expires_at < now and self.commands.reap(view.id, None):
                    log.warning("job %s: its worker's lease expired; attempt settled", view.id)
            cursor = page.next_cursor
            if cursor is None:
                break

    # --- dead letters --------------------------------------------------------------------------

    def follow_dead_letters(self, wait_seconds: int = 5) -> None:
        """Fail the jobs of dead-lettered messages until stop() (a thread's loop)."""
        if self.dead_letters is None:
            return
        while not self._stopping.is_set():
            try:
                self.settle_dead_letters(wait_seconds)
            except Exception:
                log.exception("reading the dead-letter queue failed; trying again")
                self._stopping.wait(wait_seconds)

    def settle_dead_letters(self, wait_seconds: int) -> int:
        """One long poll of the dead-letter queue; returns the messages settled."""
        assert self.dead_letters is not None
        settled = 0
        for message in self.dead_letters.receive(10, wait_seconds):
            if message.job is None:
                log.warning("dead letter %s is not a job message; dropped", message.message_id)
                self.dead_letters.delete(message.receipt)
                continue
            # The count a dead letter carries includes its receives from this queue.
            receives = self.max_receives or max(message.receives - 1, 1)
            outcome = self.remote.dead_letter(message.job.job_id, receives)
            if outcome.retry_after:
                self.dead_letters.hide(message.receipt, int(outcome.retry_after) + 1)
                continue
            log.warning("job %s dead-lettered: %s", message.job.job_id, outcome.settled)
            self.dead_letters.delete(message.receipt)
            settled += 1
        return settled

    def stop(self) -> None:
        self._stopping.set()
