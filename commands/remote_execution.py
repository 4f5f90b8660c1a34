"""Handlers of what remote workers and the job queue ask of jobs.

A queue message is the job's token: it is sent once when the job is submitted (or retried) and
deleted only when the job is settled, so a worker that dies leaves it to be delivered again
after the queue's visibility timeout; the next delivery claims the next attempt. Reports carry
the attempt they speak for and are idempotent per (job, attempt): a report repeated after the
API accepted it is answered as already recorded, and nothing changes.

A claim hands out a secret for its attempt (256 random bits) and records only its SHA-256 in
the Started event, so it survives a restart of the API and never reaches a log or a reader.
Every report on an attempt must carry that secret: a worker token alone speaks for no job, and
one worker cannot report on (or renew, or give back) another worker's claim.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from uuid import UUID

from commands.errors import ConcurrencyConflict
from commands.execution import ExecutionCommands
from domain.backtest_job import WAITING_STATUSES, BacktestJob, JobStatus

log = logging.getLogger(__name__)
_RETRIES = 8
SECRET_BYTES = 32  # 256 bits: not guessable, and its hash names it


def claim_digest(secret: str) -> str:
    """The SHA-256 (hex) a claim records of its secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


class NotTheClaim(Exception):
    """A report without the secret of the claim it speaks for (a missing or wrong one)."""

    def __init__(self, job_id: UUID, attempt: int) -> None:
        super().__init__(
            f"this report does not carry the claim secret of attempt {attempt} of backtest job "
            f"{job_id}: only the worker that claimed the attempt reports on it (send the "
            "`claim_secret` of the claim's answer in the X-Claim-Secret header)"
        )
        self.job_id = job_id
        self.attempt = attempt


@dataclass(frozen=True)
class Claim:
    """What a delivered message leads to: a started attempt, a message to drop (the job is
    settled or unknown), or one to hand back for `retry_after` seconds (another worker holds
    the job and is alive)."""

    job: BacktestJob | None = None
    secret: str = ""  # with `job`: the secret the attempt's reports must carry
    settled: str = ""  # why the message should be dropped
    retry_after: float = 0.0


class Report(StrEnum):
    ACCEPTED = "accepted"
    ALREADY_RECORDED = "already recorded"  # the same report for the same attempt came before
    ATTEMPT_OVER = "attempt over"  # the job has moved on: the worker must stop this run


class Settlement(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    LOST = "lost"  # the run's worker process died; the queue delivers the job again
    RELEASED = "released"  # the worker stopped (SIGTERM) and handed the job back


class RemoteExecution:
    """Commands of the `sqs` executor: claims, reports, dispatches and dead letters."""

    def __init__(self, execution: ExecutionCommands) -> None:
        self.execution = execution

    def claim(self, job_id: UUID, worker: str, lease_seconds: float) -> Claim:
        """Start the next attempt of the job for `worker`. A running job whose lease ran out
        lost its worker: that attempt is settled and the next one starts, in one commit."""
        secret = secrets.token_urlsafe(SECRET_BYTES)
        for _ in range(_RETRIES):
            job = self.execution.load(job_id)
            if job is None:
                return Claim(settled=f"backtest job {job_id} does not exist")
            if job.is_final:
                return Claim(settled=f"backtest job {job_id} is {job.status.value}")
            now = self.execution.clock()
            if job.status is JobStatus.RUNNING:
                if not job.lease_expired(now):
                    assert job.lease_expires_at is not None
                    wait = (job.lease_expires_at - now).total_seconds()
                    return Claim(retry_after=max(wait, 0.0) + 1.0)
                reason = (
                    f"attempt {job.attempt} lost: worker {job.worker} stopped renewing its lease; "
                    "the queue delivered the job again"
                )
                if job.cancel_requested_by is not None:
                    job.cancel(f"cancelled by {job.cancel_requested_by}; {reason}")
                else:
                    job.requeue(job.attempt, reason)
            if job.status in WAITING_STATUSES and job.cancel_requested_by is None:
                lease = now + timedelta(seconds=lease_seconds)
                job.start(job.attempt + 1, worker, lease, claim_digest(secret))
            try:
                self.execution.store.commit(job)
            except ConcurrencyConflict:
                continue
            if job.status is JobStatus.RUNNING:
                return Claim(job=job, secret=secret)
            return Claim(settled=f"backtest job {job_id} is {job.status.value}")
        return Claim(retry_after=1.0)

    def verify(self, job_id: UUID, attempt: int, secret: str | None) -> None:
        """Raise NotTheClaim unless `secret` is the one the claim of `attempt` handed out.
        An attempt's recorded digest never changes, so the report that follows the check
        cannot meet another claim's attempt (its handler checks the attempt number)."""
        job = self.execution.load(job_id) if secret else None
        if job is None or not job.claimed_with(attempt, claim_digest(secret or "")):
            raise NotTheClaim(job_id, attempt)

    def heartbeat(
        self, job_id: UUID, attempt: int, secret: str | None, lease_seconds: float
    ) -> BacktestJob | None:
        """Renew the attempt's lease; the job (to read a cancel request), or None when the
        attempt is over."""
        self.verify(job_id, attempt, secret)
        if not self.execution.renew_lease(job_id, attempt, lease_seconds):
            return None
        return self._running(job_id, attempt)

    def progress(
        self, job_id: UUID, attempt: int, secret: str | None, phase: str, fraction: float
    ) -> BacktestJob | None:
        """Record progress; the job, or None when the attempt is over."""
        self.verify(job_id, attempt, secret)
        if not self.execution.report_progress(job_id, attempt, phase, fraction):
            return None
        return self._running(job_id, attempt)

    def settle(
        self,
        job_id: UUID,
        attempt: int,
        secret: str | None,
        how: Settlement,
        *,
        reason: str = "",
        summary: dict[str, float | int | None] | None = None,
        artifacts: dict[str, str] | None = None,
    ) -> Report:
        """Apply a worker's final report on `attempt`, once."""
        self.verify(job_id, attempt, secret)
        ex = self.execution
        if how is Settlement.COMPLETED:
            done = ex.complete(job_id, attempt, summary or {}, artifacts or {})
        elif how is Settlement.FAILED:
            done = ex.fail(job_id, attempt, reason)
        elif how is Settlement.CANCELLED:
            done = ex.confirm_cancel(job_id, attempt)
        elif how is Settlement.LOST:
            done = ex.lose_attempt(job_id, attempt, reason, None)
        else:
            done = ex.release(job_id, attempt, reason)
        if done:
            return Report.ACCEPTED
        job = ex.load(job_id)
        return Report.ALREADY_RECORDED if _settled_by(job, attempt, how) else Report.ATTEMPT_OVER

    def dispatched(self, job_id: UUID, message_id: str) -> bool:
        """Record that the job was sent to the queue as `message_id` (False: not needed)."""
        for _ in range(_RETRIES):
            job = self.execution.load(job_id)
            if job is None or job.is_final or not job.undispatched:
                return False
            job.dispatch(message_id)  # a worker may have claimed it already: still recorded
            try:
                self.execution.store.commit(job)
                return True
            except ConcurrencyConflict:
                continue
        return False

    def dead_letter(self, job_id: UUID, receives: int) -> Claim:
        """The queue gave up on the job's message after `receives` receives: fail the job.
        A job that is settled drops the letter; one a live worker holds keeps it for later."""
        for _ in range(_RETRIES):
            job = self.execution.load(job_id)
            if job is None or job.is_final:
                return Claim(settled="nothing to fail")
            now = self.execution.clock()
            if job.status is JobStatus.RUNNING and not job.lease_expired(now):
                assert job.lease_expires_at is not None
                return Claim(retry_after=(job.lease_expires_at - now).total_seconds() + 1.0)
            job.fail(
                f"dead-lettered after {receives} receives: the job's queue message was delivered "
                f"{receives} times without a worker finishing it (its run may kill the worker); "
                "POST /api/v1/backtests/{id}/retry runs it again".replace("{id}", str(job_id))
            )
            try:
                self.execution.store.commit(job)
            except ConcurrencyConflict:
                continue
            return Claim(settled="failed as dead-lettered")
        return Claim(retry_after=1.0)

    def _running(self, job_id: UUID, attempt: int) -> BacktestJob | None:
        job = self.execution.load(job_id)
        if job is None or job.status is not JobStatus.RUNNING or job.attempt != attempt:
            return None
        return job


def _settled_by(job: BacktestJob | None, attempt: int, how: Settlement) -> bool:
    """True when `job` is in the state `how` on `attempt` left it (a repeated report)."""
    if job is None or job.attempt != attempt:
        return False
    if how is Settlement.COMPLETED:
        return job.status is JobStatus.COMPLETED
    if how is Settlement.FAILED:
        return job.status is JobStatus.FAILED
    if how is Settlement.CANCELLED:
        return job.status is JobStatus.CANCELLED
    return job.status in WAITING_STATUSES or job.status is JobStatus.CANCELLED
