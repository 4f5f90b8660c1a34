"""Handlers of the executor's commands: claim a job, report on the run, and settle it.

Every handler names the attempt it speaks for, so a worker of a lost attempt can never change
the job after it was handed to a new attempt. A clash with a concurrent command (a user's
cancel request arriving with a progress report) is retried on the reloaded job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

from commands.errors import ConcurrencyConflict
from commands.store import EventStore
from domain.backtest_job import WAITING_STATUSES, BacktestJob, JobStatus, ResultSummary
from domain.errors import DomainError

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
_RETRIES = 8


def utc_now() -> datetime:
    return datetime.now(UTC)


class ExecutionCommands:
    """What executors may do to jobs."""

    def __init__(self, store: EventStore, clock: Clock = utc_now) -> None:
        self.store = store
        self.clock = clock

    def claim(self, job_id: UUID, worker: str, lease_seconds: float) -> BacktestJob | None:
        """Start the next attempt of a waiting job; None when it is not waiting (or lost a race).

        The claim is an event: of two executors claiming one job, only one commit succeeds.
        """
        job = self._job(job_id)
        if job is None or job.status not in WAITING_STATUSES or job.cancel_requested_by:
            return None
        job.start(job.attempt + 1, worker, self.clock() + timedelta(seconds=lease_seconds))
        try:
            self.store.commit(job)
        except ConcurrencyConflict:
            return None
        return job

    def renew_lease(self, job_id: UUID, attempt: int, lease_seconds: float) -> bool:
        expires = self.clock() + timedelta(seconds=lease_seconds)
        return self._update(job_id, attempt, lambda job: job.renew_lease(attempt, expires))

    def report_progress(self, job_id: UUID, attempt: int, phase: str, fraction: float) -> bool:
        return self._update(job_id, attempt, lambda job: job.report_progress(phase, fraction))

    def complete(
        self, job_id: UUID, attempt: int, summary: ResultSummary, artifacts: dict[str, str]
    ) -> bool:
        return self._update(job_id, attempt, lambda job: job.complete(summary, artifacts))

    def fail(self, job_id: UUID, attempt: int, reason: str) -> bool:
        return self._update(job_id, attempt, lambda job: job.fail(reason))

    def confirm_cancel(self, job_id: UUID, attempt: int) -> bool:
        """The worker stopped on request: the job is cancelled."""
        return self._update(
            job_id,
            attempt,
            lambda job: job.cancel(f"cancelled by {job.cancel_requested_by} while running"),
        )

    def lose_attempt(
        self, job_id: UUID, attempt: int, reason: str, max_attempts: int | None
    ) -> bool:
        """The attempt's worker is gone: run the job again, or fail it after `max_attempts`
        (None: no limit here; a queue's redrive policy sets it)."""

        def settle(job: BacktestJob) -> None:
            if job.cancel_requested_by is not None:
                job.cancel(f"cancelled by {job.cancel_requested_by}; {reason}")
            elif max_attempts is None or job.attempt < max_attempts:
                job.requeue(attempt, f"attempt {attempt} lost: {reason}; retrying")
            else:
                job.fail(f"attempt {attempt} lost: {reason}; gave up after {max_attempts} attempts")

        return self._update(job_id, attempt, settle)

    def release(self, job_id: UUID, attempt: int, reason: str) -> bool:
        """Give the job back to the queue without counting it against its attempts' limit
        (the service is stopping; nothing went wrong with the run)."""

        def settle(job: BacktestJob) -> None:
            if job.cancel_requested_by is not None:
                job.cancel(f"cancelled by {job.cancel_requested_by}; {reason}")
            else:
                job.requeue(attempt, f"attempt {attempt} interrupted: {reason}; it will run again")

        return self._update(job_id, attempt, settle)

    def reap(self, job_id: UUID, max_attempts: int | None) -> bool:
        """Settle a running job whose lease ran out (its worker stopped renewing it)."""
        job = self._job(job_id)
        now = self.clock()
        if job is None or not job.lease_expired(now):
            return False
        expired = f"{job.lease_expires_at:%Y-%m-%d %H:%M:%S} UTC"
        reason = f"worker {job.worker} stopped renewing its lease (it expired {expired})"
        return self.lose_attempt(job_id, job.attempt, reason, max_attempts)

    def load(self, job_id: UUID) -> BacktestJob | None:
        """The job, or None when there is none."""
        return self._job(job_id)

    def _job(self, job_id: UUID) -> BacktestJob | None:
        if not self.store.exists(job_id):
            return None
        job = self.store.load(job_id, "backtest job")
        return job if isinstance(job, BacktestJob) else None

    def _update(self, job_id: UUID, attempt: int, change: Callable[[BacktestJob], None]) -> bool:
        """Apply `change` to the job's running `attempt`; False when that attempt is over."""
        for _ in range(_RETRIES):
            job = self._job(job_id)
            if job is None or job.status is not JobStatus.RUNNING or job.attempt != attempt:
                return False
            try:
                change(job)
            except DomainError as error:
                log.info("job %s attempt %s: %s", job_id, attempt, error)
                return False
            try:
                self.store.commit(job)
                return True
            except ConcurrencyConflict:
                continue
        log.warning("job %s attempt %s: gave up after %s conflicts", job_id, attempt, _RETRIES)
        return False
