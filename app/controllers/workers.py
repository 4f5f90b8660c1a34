"""What remote workers (`tradai worker`, role `worker`) may do: claim a job delivered by the
queue, and report on the attempt they run. Nothing else is open to that role, and nothing here
is open to any other role (admin included): a report is a worker's word on its own run. These
routes exist only with `BACKEND_EXECUTOR=sqs` (app/factory.py): with any other executor no
worker runs jobs, and a worker token must not be a way to touch them.

A claim answers with `claim_secret`, and every report on the attempt carries it in the
`X-Claim-Secret` header: a missing or wrong one is 403 `not-the-claim` and changes nothing, so
a worker token speaks only for the claims its worker made. A completion names only the metrics
this service reports (422 otherwise).

Every report names its attempt and is idempotent per (job, attempt): a worker that retries a
report after a lost answer gets `already recorded`; a worker whose attempt was taken over gets
409 `attempt-over` and must stop the run without touching the queue message.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, post
from litestar.params import Parameter

from adapters.freqtrade.results import METRICS
from app import params
from app.auth import WORK, Principal
from app.bootstrap import Container
from app.openapi import BODY, WRITE, problems
from app.params import BadParameter, JobIdPath
from app.problems import Problem, problem
from commands.execution import ExecutionCommands
from commands.remote_execution import NotTheClaim, RemoteExecution, Report, Settlement
from domain.backtest_job import BacktestJob
from domain.errors import InvalidValue
from projections.executor import run_spec

AttemptPath = Annotated[
    str,
    Parameter(
        description="attempt number (1, 2, ...)",
        max_length=12,
        schema_extra={"pattern": params.VERSION_FORM},
    ),
]
Phase = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
ArtifactKey = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
ClaimSecret = Annotated[
    str | None,
    Parameter(
        header="X-Claim-Secret",
        required=False,
        max_length=128,
        description="the `claim_secret` the claim of this attempt answered with",
    ),
]
REPORT_PROBLEMS = problems(*WRITE, *BODY, 404, 409)  # WRITE has 403: also `not-the-claim`
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
KNOWN_METRICS = frozenset(METRICS)  # the headline metrics a run reports (API.md's names)


class ClaimRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    worker: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class ClaimedRun(msgspec.Struct, frozen=True, kw_only=True):
    """The attempt a worker now holds, with everything it needs to run it."""

    job_id: UUID
    attempt: int
    strategy: str
    code: str
    code_sha256: str
    pairs: tuple[str, ...]
    timeframe: str
    timerange: str
    exchange: str
    stake_amount: float | None
    max_open_trades: int | None
    starting_balance: float | None
    fee: float | None
    parameters: dict[str, int | float | str | bool | None]
    lease_seconds: float
    lease_expires_at: datetime
    claim_secret: str  # send it as X-Claim-Secret with every report on this attempt


class Held(msgspec.Struct, frozen=True, kw_only=True):
    """The attempt is still the worker's; stop the run when a cancel was requested."""

    attempt: int
    cancel_requested: bool
    lease_expires_at: datetime | None


class ProgressReport(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    phase: Phase
    fraction: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]


class CompletionReport(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    summary: Annotated[
        dict[Annotated[str, msgspec.Meta(max_length=64)], float | int | None],
        msgspec.Meta(max_length=200),
    ]
    artifacts: Annotated[
        dict[Annotated[str, msgspec.Meta(max_length=64)], ArtifactKey], msgspec.Meta(max_length=20)
    ]


class ReasonReport(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: Reason


class Recorded(msgspec.Struct, frozen=True):
    outcome: str  # "accepted" or "already recorded"


def _remote(container: Container) -> RemoteExecution:
    return RemoteExecution(ExecutionCommands(container.store))


def _attempt(raw: str) -> int:
    if not re.fullmatch(params.VERSION_FORM, raw):
        raise BadParameter("attempt", f"{raw!r} is not an attempt number (1, 2, ...)")
    return int(raw)


def _not_the_claim(request: Request[Any, Any, Any], exc: NotTheClaim) -> Response[Problem]:
    return problem(request, 403, str(exc), "not-the-claim")


def _check_metrics(summary: dict[str, float | int | None]) -> None:
    unknown = sorted(set(summary) - KNOWN_METRICS)
    if unknown:
        raise InvalidValue(
            f"summary.{unknown[0]}",
            f"not a metric this service reports ({len(unknown)} unknown); known: "
            + ", ".join(sorted(KNOWN_METRICS)),
        )


def _held(job: BacktestJob) -> Held:
    return Held(
        attempt=job.attempt,
        cancel_requested=job.cancel_requested_by is not None,
        lease_expires_at=job.lease_expires_at,
    )


def _attempt_over(request: Request[Any, Any, Any], job_id: UUID, attempt: int) -> Response[Problem]:
    return problem(
        request,
        409,
        f"attempt {attempt} of backtest job {job_id} is over (the job was settled or handed to "
        "another attempt): stop the run and leave its queue message alone",
        "attempt-over",
    )


def _recorded(
    request: Request[Any, Any, Any], job_id: UUID, attempt: int, report: Report
) -> Response[Recorded] | Response[Problem]:
    if report is Report.ATTEMPT_OVER:
        return _attempt_over(request, job_id, attempt)
    return Response(Recorded(outcome=report.value), status_code=200)


class WorkerController(Controller):
    path = "/api/v1/workers/jobs"
    tags = ["workers"]
    exception_handlers = {NotTheClaim: _not_the_claim}

    @post(
        "/{job_id:str}/claim",
        opt=WORK,
        status_code=200,
        sync_to_thread=True,
        responses=problems(*WRITE, *BODY, 404, 409),
    )
    def claim(
        self,
        job_id: JobIdPath,
        data: ClaimRequest,
        request: Request[Principal, Any, Any],
        container: Container,
    ) -> Response[ClaimedRun] | Response[Problem]:
        """Claim the next attempt of a job the queue delivered. 409 `job-settled`: drop the
        message; 409 `job-held` with Retry-After: another worker runs it, hand the message back."""
        key = params.job_id(job_id)
        lease = container.settings.lease_seconds
        claim = _remote(container).claim(key, data.worker, lease)
        if claim.retry_after:
            return problem(
                request,
                409,
                f"backtest job {key} is running on another worker whose lease is alive",
                "job-held",
                headers={"Retry-After": str(int(claim.retry_after) + 1)},
            )
        if claim.job is None:
            return problem(request, 409, claim.settled, "job-settled")
        job = claim.job
        spec = run_spec(container.store, job)
        if spec is None:
            reason = "the strategy version's code is missing or changed"
            _remote(container).settle(
                key, job.attempt, claim.secret, Settlement.FAILED, reason=reason
            )
            return problem(request, 409, f"backtest job {key} failed: {reason}", "job-settled")
        assert job.lease_expires_at is not None
        return Response(
            ClaimedRun(
                **msgspec.structs.asdict(spec),
                lease_seconds=lease,
                lease_expires_at=job.lease_expires_at,
                claim_secret=claim.secret,
            )
        )

    @post(
        "/{job_id:str}/attempts/{attempt:str}/heartbeat",
        opt=WORK,
        status_code=200,
        sync_to_thread=True,
        responses=problems(*WRITE, 400, 404, 409),
    )
    def heartbeat(
        self,
        job_id: JobIdPath,
        attempt: AttemptPath,
        secret: ClaimSecret,
        request: Request[Principal, Any, Any],
        container: Container,
    ) -> Response[Held] | Response[Problem]:
        """Renew the attempt's lease; says whether a cancel was requested."""
        key, number = params.job_id(job_id), _attempt(attempt)
        job = _remote(container).heartbeat(key, number, secret, container.settings.lease_seconds)
        return _attempt_over(request, key, number) if job is None else Response(_held(job))

    @post(
        "/{job_id:str}/attempts/{attempt:str}/progress",
        opt=WORK,
        status_code=200,
        sync_to_thread=True,
        responses=REPORT_PROBLEMS,
    )
    def progress(
        self,
        job_id: JobIdPath,
        attempt: AttemptPath,
        data: ProgressReport,
        secret: ClaimSecret,
        request: Request[Principal, Any, Any],
        container: Container,
    ) -> Response[Held] | Response[Problem]:
        """Report how far the run got; says whether a cancel was requested."""
        key, number = params.job_id(job_id), _attempt(attempt)
        job = _remote(container).progress(key, number, secret, data.phase, data.fraction)
        return _attempt_over(request, key, number) if job is None else Response(_held(job))

    @post(
        "/{job_id:str}/attempts/{attempt:str}/completed",
        opt=WORK,
        status_code=200,
        sync_to_thread=True,
        responses=problems(*WRITE, *BODY, 404, 409, 422),
    )
    def completed(
        self,
        job_id: JobIdPath,
        attempt: AttemptPath,
        data: CompletionReport,
        secret: ClaimSecret,
        request: Request[Principal, Any, Any],
        container: Container,
    ) -> Response[Recorded] | Response[Problem]:
        """The run produced its result; artifacts were uploaded under `<job>/<attempt>/`."""
        key, number = params.job_id(job_id), _attempt(attempt)
        _check_metrics(data.summary)
        prefix = f"{key}/{number}/"
        for name, stored in data.artifacts.items():
            if not _NAME.fullmatch(name) or not stored.startswith(prefix) or ".." in stored:
                raise BadParameter(
                    f"artifacts.{name}", f"artifacts of this attempt are stored under {prefix!r}"
                )
        report = _remote(container).settle(
            key,
            number,
            secret,
            Settlement.COMPLETED,
            summary=dict(data.summary),
            artifacts=dict(data.artifacts),
        )
        return _recorded(request, key, number, report)

    @post(
        "/{job_id:str}/attempts/{attempt:str}/{outcome:str}",
        opt=WORK,
        status_code=200,
        sync_to_thread=True,
        responses=REPORT_PROBLEMS,
    )
    def settled(
        self,
        job_id: JobIdPath,
        attempt: AttemptPath,
        outcome: Annotated[
            str,
            Parameter(
                description="failed, cancelled, lost or released",
                schema_extra={"enum": ["failed", "cancelled", "lost", "released"]},
            ),
        ],
        data: ReasonReport,
        secret: ClaimSecret,
        request: Request[Principal, Any, Any],
        container: Container,
    ) -> Response[Recorded] | Response[Problem]:
        """The run ended without a result: `failed` (final), `cancelled` (on request), `lost`
        (its process died: the queue delivers the job again), `released` (the worker stopped)."""
        key, number = params.job_id(job_id), _attempt(attempt)
        try:
            how = Settlement(outcome)
        except ValueError:
            raise BadParameter("outcome", "one of failed, cancelled, lost, released") from None
        if how is Settlement.COMPLETED:
            raise BadParameter("outcome", "a completion reports its result at .../completed")
        report = _remote(container).settle(key, number, secret, how, reason=data.reason)
        return _recorded(request, key, number, report)


# The executors whose jobs remote workers run: only with one of these do the routes exist.
REMOTE_EXECUTORS = frozenset({"sqs"})


def worker_routes(executor: str) -> list[type[WorkerController]]:
    """The worker routes to serve under `BACKEND_EXECUTOR=executor`: none unless remote
    workers run the jobs. With `local` or `memory` the API's own pool runs them and with `off`
    nobody does, so a worker token must find nothing to claim or settle (404 on every route)."""
    return [WorkerController] if executor in REMOTE_EXECUTORS else []
