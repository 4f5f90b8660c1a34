"""Projects BacktestJob events into BacktestJobView documents."""

from __future__ import annotations

from typing import Any

from msgspec.structs import replace

from commands.views import BacktestJobView, Progress
from domain.backtest_job import BacktestJob, JobStatus


def project_job(view: BacktestJobView | None, event: Any) -> BacktestJobView | None:
    """The job document after `event`; the same answer the aggregate itself would give."""
    if isinstance(event, BacktestJob.Submitted):
        return BacktestJobView(
            id=event.originator_id,
            strategy=event.strategy,
            strategy_version=event.strategy_version,
            code_sha256=event.code_sha256,
            pairs=tuple(event.pairs),
            timeframe=event.timeframe,
            timerange=event.timerange,
            exchange=event.exchange,
            stake_amount=event.stake_amount,
            max_open_trades=event.max_open_trades,
            starting_balance=event.starting_balance,
            fee=event.fee,
            status=JobStatus.SUBMITTED.value,
            progress=Progress(),
            attempt=0,
            worker=None,
            submitted_by=event.submitted_by,
            submitted_at=event.timestamp,
            started_at=None,
            finished_at=None,
            error=None,
            cancel_requested=False,
            summary=None,
            artifacts={},
            lease_expires_at=None,
            version=event.originator_version,
            parameters=dict(event.parameters),
            priority=event.priority,
            sweep_id=event.sweep_id,
        )
    if view is None:
        return None  # an event of a job whose creation this model never saw: nothing to update
    version = event.originator_version
    if isinstance(event, BacktestJob.Started):
        return replace(
            view,
            status=JobStatus.RUNNING.value,
            attempt=event.attempt,
            worker=event.worker,
            lease_expires_at=event.lease_expires_at,
            started_at=event.timestamp,
            progress=Progress(),
            version=version,
        )
    if isinstance(event, BacktestJob.LeaseRenewed):
        return replace(view, lease_expires_at=event.expires_at, version=version)
    if isinstance(event, BacktestJob.Requeued):
        return replace(
            view,
            status=JobStatus.QUEUED.value,
            worker=None,
            lease_expires_at=None,
            error=event.reason,
            progress=Progress(),
            version=version,
        )
    if isinstance(event, BacktestJob.RetryRequested):
        return replace(
            view,
            status=JobStatus.QUEUED.value,
            error=None,
            finished_at=None,
            cancel_requested=False,
            progress=Progress(),
            version=version,
        )
    if isinstance(event, BacktestJob.ProgressReported):
        return replace(view, progress=Progress(event.phase, event.fraction), version=version)
    if isinstance(event, BacktestJob.Completed):
        return replace(
            view,
            status=JobStatus.COMPLETED.value,
            summary=dict(event.summary),
            artifacts=dict(event.artifacts),
            error=None,
            lease_expires_at=None,
            progress=Progress(view.progress.phase, 1.0),
            finished_at=event.timestamp,
            version=version,
        )
    if isinstance(event, BacktestJob.Failed):
        return replace(
            view,
            status=JobStatus.FAILED.value,
            error=event.reason,
            lease_expires_at=None,
            finished_at=event.timestamp,
            version=version,
        )
    if isinstance(event, BacktestJob.CancelRequested):
        return replace(view, cancel_requested=True, version=version)
    if isinstance(event, BacktestJob.Cancelled):
        return replace(
            view,
            status=JobStatus.CANCELLED.value,
            error=event.reason,
            lease_expires_at=None,
            finished_at=event.timestamp,
            version=version,
        )
    return replace(view, version=version)  # an event type this projection does not show
