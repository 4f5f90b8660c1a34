"""Handlers of the commands clients send about backtests: submit and cancel."""

from __future__ import annotations

from uuid import UUID

from commands.errors import ConcurrencyConflict, NotFound, NotOwner, UnknownReference
from commands.idempotency import IdempotencyRecord, Outcome, Remember, run_idempotent
from commands.messages import CancelBacktest, RetryBacktest, SubmitBacktest
from commands.quotas import NoQuota, WaitingWorkQuota
from commands.store import EventStore
from commands.views import BacktestJobView, job_view
from domain.backtest_job import WAITING_STATUSES, BacktestJob, check_submission
from domain.identity import strategy_id, strategy_version_id
from domain.strategy import Strategy
from domain.strategy_version import StrategyVersion

_CANCEL_ATTEMPTS = 5


class BacktestCommands:
    """Command handlers for BacktestJob aggregates."""

    def __init__(self, store: EventStore, quota: WaitingWorkQuota | None = None) -> None:
        self.store = store
        self.quota: WaitingWorkQuota = quota or NoQuota()

    def submit_backtest(
        self, command: SubmitBacktest, actor: str, idempotency_key: str | None = None
    ) -> tuple[BacktestJobView, Outcome]:
        """Create a job for a registered strategy version; it waits for a worker."""

        def execute(remember: Remember[BacktestJobView]) -> tuple[BacktestJobView, int]:
            job = self.new_job(command, actor)
            self.quota.admit(actor, 1)
            view = job_view(job)
            return view, self.store.commit(job, remember(view))

        return run_idempotent(self.store, actor, idempotency_key, command, BacktestJobView, execute)

    def new_job(
        self, command: SubmitBacktest, actor: str, sweep_id: UUID | None = None
    ) -> BacktestJob:
        """A job for `command` (not yet saved), checked as every submit is: a sweep's trials
        are made here too."""
        c = command  # the values first: they need no lookup
        check_submission(
            c.pairs, c.timeframe, c.timerange, c.exchange,
            c.stake_amount, c.max_open_trades, c.starting_balance, c.fee, c.priority,
        )  # fmt: skip
        version = self.strategy_version(command.strategy, command.strategy_version)
        version.check_parameters(command.parameters)
        return BacktestJob(
            strategy=version.name,
            strategy_version=version.number,
            code_sha256=version.code_sha256,
            pairs=command.pairs,
            timeframe=command.timeframe,
            timerange=command.timerange,
            exchange=command.exchange,
            stake_amount=command.stake_amount,
            max_open_trades=command.max_open_trades,
            starting_balance=command.starting_balance,
            fee=command.fee,
            submitted_by=actor,
            parameters=dict(command.parameters),
            priority=command.priority,
            sweep_id=sweep_id,
        )

    def strategy_version(self, name: str, number: int | None) -> StrategyVersion:
        """A registered version (the latest when `number` is None), read only: the commands
        of one batch may share it. UnknownReference names the field that does not resolve."""
        return self.store.memo(
            ("strategy version", name, number), lambda: self._strategy_version(name, number)
        )

    def cancel_backtest(
        self,
        command: CancelBacktest,
        actor: str,
        idempotency_key: str | None = None,
        *,
        admin: bool = False,
    ) -> tuple[BacktestJobView, Outcome]:
        """Ask a job to stop; a job no worker holds is cancelled at once. Only its submitter
        or an admin may (NotOwner)."""

        def execute(remember: Remember[BacktestJobView]) -> tuple[BacktestJobView, int]:
            # A worker's progress report may land between load and commit; the request still
            # holds on the newer state, so reload and apply it again (a finished job refuses).
            for attempt in range(_CANCEL_ATTEMPTS):
                job = self.job(command.job_id)
                check_submitter("backtest", job.id, job.submitted_by, actor, admin)
                job.request_cancel(requested_by=actor)
                if job.status in WAITING_STATUSES:
                    job.cancel(reason=f"cancelled by {actor} before it started")
                view = job_view(job)
                try:
                    return view, self.store.commit(job, remember(view))
                except ConcurrencyConflict:
                    if attempt == _CANCEL_ATTEMPTS - 1:
                        raise
            raise AssertionError("unreachable")

        return run_idempotent(self.store, actor, idempotency_key, command, BacktestJobView, execute)

    def retry_backtest(
        self,
        command: RetryBacktest,
        actor: str,
        idempotency_key: str | None = None,
        *,
        admin: bool = False,
    ) -> tuple[BacktestJobView, Outcome]:
        """Run a failed job again: it waits for its next attempt (409 unless it failed). Only
        its submitter or an admin may (NotOwner)."""

        def execute(remember: Remember[BacktestJobView]) -> tuple[BacktestJobView, int]:
            job = self.job(command.job_id)
            check_submitter("backtest", job.id, job.submitted_by, actor, admin)
            job.retry(requested_by=actor)
            self.quota.admit(job.submitted_by, 1)
            view = job_view(job)
            return view, self.store.commit(job, remember(view))

        return run_idempotent(self.store, actor, idempotency_key, command, BacktestJobView, execute)

    def job(self, job_id: UUID) -> BacktestJob:
        """Load a job or raise NotFound."""
        job = self.store.load(job_id, "backtest job")
        if not isinstance(job, BacktestJob):
            raise NotFound("backtest job", str(job_id))
        return job

    def _strategy_version(self, name: str, number: int | None) -> StrategyVersion:
        sid = strategy_id(name)
        if not self.store.exists(sid):
            raise UnknownReference("strategy", f"no strategy named {name!r} is registered")
        strategy: Strategy = self.store.load(sid, "strategy", name, read_only=True)
        wanted = strategy.latest_version if number is None else number
        if wanted not in strategy.versions:
            raise UnknownReference(
                "strategy_version",
                f"strategy {name!r} has versions 1..{strategy.latest_version}, not {wanted}",
            )
        version: StrategyVersion = self.store.load(
            strategy_version_id(name, wanted),
            "strategy version",
            f"{name} v{wanted}",
            read_only=True,
        )
        return version


def check_submitter(kind: str, key: UUID, submitted_by: str, actor: str, admin: bool) -> None:
    """Raise NotOwner unless `actor` submitted the job or sweep, or is an admin."""
    if admin or actor == submitted_by:
        return
    raise NotOwner(
        f"{kind} {key} was submitted by {submitted_by}; only they or an admin may change it"
    )


__all__ = ["BacktestCommands", "IdempotencyRecord", "check_submitter"]
