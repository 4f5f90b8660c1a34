"""The `sqs` executor: jobs go to a queue that `tradai worker` processes on any machine read.

- the dispatcher follows the log from its recorded position and sends each job that was
  submitted or retried to the queue, then records a Dispatched event. A restart between the
  two sends the job again; the duplicate message is dropped by the claim (a job runs once per
  attempt), so nothing is lost and nothing floods;
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
from domain.backtest_job import BacktestJob
from projections.execution_ports import JobMessage, JobQueue
from projections.ports import PositionStore, ReadModelQueries

log = logging.getLogger(__name__)


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
    ) -> None:
        self.store = store
        self.commands = commands
        self.remote = RemoteExecution(commands)
        self.queue = queue
        self.positions = positions
        self.dead_letters = dead_letters
        self.max_receives = max_receives
        self._stopping = threading.Event()

    # --- the dispatcher (a Subscriber) -------------------------------------------------------

    def position(self) -> int:
        return self.positions.position(self.name)

    def handle(self, events: Sequence[StoredEvent], after: int) -> None:
        for stored in events:
            event = stored.event
            if isinstance(event, BacktestJob.Submitted | BacktestJob.RetryRequested):
                self.dispatch(event.originator_id)
            self.positions.save_position(self.name, stored.position)

    def dispatch(self, job_id: UUID) -> None:
        job = self.commands.load(job_id)
        if job is None or not job.needs_dispatch:
            return
        message_id = self.queue.send(JobMessage(job_id=job_id, attempt=job.attempt + 1))
        self.remote.dispatched(job_id, message_id)
        log.info("job %s sent to the queue as message %s", job_id, message_id)

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
