"""Backtest endpoints: submit and cancel (commands), and the queries over the read model."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import anyio
import msgspec
from litestar import Controller, MediaType, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.openapi import ResponseSpec
from litestar.params import Parameter
from litestar.response import Stream
from litestar.response.base import ASGIResponse
from litestar.status_codes import HTTP_202_ACCEPTED

from app import params
from app.auth import READ, RESEARCH, Principal, is_admin
from app.bootstrap import Container
from app.openapi import BODY, COMMAND, TOKEN, problems
from app.params import Cursor, JobIdPath
from app.problems import ResultNotReady
from app.schemas import (
    Backtest,
    BacktestCreate,
    BacktestPage,
    BacktestResult,
    Equity,
    JobEvent,
    JobStatusFilter,
    TradePage,
)
from commands.messages import CancelBacktest, RetryBacktest, SubmitBacktest
from commands.store import StoredEvent
from commands.views import BacktestJobView
from projections.results import BacktestResultView, Trade

# A streamed file, documented as Litestar documents a `bytes` answer (the default for a Stream
# response leaves the schema empty).
_FILE = ResponseSpec(
    data_container=bytes,
    media_type="application/octet-stream",
    description="Request fulfilled, document follows",
    generate_examples=False,
)

IdempotencyKey = Annotated[
    str | None,
    Parameter(header="Idempotency-Key", min_length=1, max_length=200, required=False),
]
Limit = Annotated[int, Parameter(ge=1, le=200, description="page size")]
# The log position a command's effects reach: `since` for a live stream that must miss nothing.
POSITION = "X-Position"
_BACKTEST = msgspec.json.Decoder(Backtest)
_ENCODE = msgspec.json.Encoder().encode
RESULT_PROBLEMS = problems(*TOKEN, 400, 404, 409)  # 409: the job has not completed
_ENVELOPE = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})


class BacktestController(Controller):
    path = "/api/v1/backtests"
    tags = ["backtests"]

    @post("", opt=RESEARCH, status_code=HTTP_202_ACCEPTED, responses=problems(*COMMAND, *BODY))
    async def submit(
        self,
        data: BacktestCreate,
        request: Request[Principal, Any, Any],
        container: Container,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Backtest]:
        """Submit a backtest; it is queued for a worker. Answers 202 with the job."""
        command = SubmitBacktest(**msgspec.structs.asdict(data) | {"pairs": tuple(data.pairs)})
        actor = request.user.sub
        view, outcome = await container.commands().run(
            lambda: container.backtests.submit_backtest(command, actor, idempotency_key)
        )  # batched with concurrent submits and cancels: one transaction for all of them
        return Response(
            Backtest.of(view),
            status_code=HTTP_202_ACCEPTED,
            headers={"Location": f"/api/v1/backtests/{view.id}", POSITION: str(outcome.position)},
        )

    @get("", opt=READ, sync_to_thread=True, responses=problems(*TOKEN, 400, 422))
    def list_backtests(
        self,
        container: Container,
        status: JobStatusFilter | None = None,
        strategy: Annotated[str | None, Parameter(max_length=64)] = None,
        sweep: Annotated[UUID | None, Parameter(description="only this sweep's trials")] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> BacktestPage:
        """Jobs, newest first; filter by `status`, `strategy` or `sweep`."""
        page = container.read_store.list_jobs(
            status=status.value if status else None,
            strategy=strategy,
            limit=limit,
            cursor=cursor,
            sweep=sweep,
        )
        return BacktestPage(
            items=[Backtest.of(v) for v in page.items if isinstance(v, BacktestJobView)],
            next_cursor=page.next_cursor,
        )

    @get(
        "/{job_id:str}",
        opt=READ,
        media_type=MediaType.JSON,
        responses={200: ResponseSpec(Backtest, description="the job")} | problems(*TOKEN, 400, 404),
    )
    async def show(self, job_id: JobIdPath, request: Request[Principal, Any, Any]) -> ASGIResponse:
        """One job: status, progress, times, error and attempt."""
        # The hottest route, kept lean: no thread hand-off (SQLite lookups are microseconds),
        # the container from app state rather than the dependency resolver, and the stored
        # document decoded straight into the API's schema (extra fields skipped), encoded once
        # and sent as a finished ASGI response.
        container: Container = request.app.state.container
        key = params.job_key(job_id)
        doc = await container.query(lambda: container.read_store.job_document(key))
        if doc is None:  # maybe committed through another replica a moment ago
            doc = await anyio.to_thread.run_sync(
                lambda: container.find(lambda: container.read_store.job_document(key))
            )
        if doc is None:
            raise NotFoundException(f"backtest job {key} does not exist")
        return ASGIResponse(body=_ENCODE(_BACKTEST.decode(doc)), media_type=MediaType.JSON)

    @post(
        "/{job_id:str}/cancel",
        opt=RESEARCH,
        status_code=HTTP_202_ACCEPTED,
        responses=problems(*COMMAND, 404),
    )
    async def cancel(
        self,
        job_id: JobIdPath,
        request: Request[Principal, Any, Any],
        container: Container,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Backtest]:
        """Cancel a job (its submitter or an admin); 409 when it already finished."""
        command = CancelBacktest(job_id=params.job_id(job_id))
        actor, admin = request.user.sub, is_admin(request.user)
        view, outcome = await container.commands().run(
            lambda: container.backtests.cancel_backtest(
                command, actor, idempotency_key, admin=admin
            )
        )
        return Response(
            Backtest.of(view),
            status_code=HTTP_202_ACCEPTED,
            headers={POSITION: str(outcome.position)},
        )

    @post(
        "/{job_id:str}/retry",
        opt=RESEARCH,
        status_code=HTTP_202_ACCEPTED,
        responses=problems(*COMMAND, 404),
    )
    async def retry(
        self,
        job_id: JobIdPath,
        request: Request[Principal, Any, Any],
        container: Container,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Backtest]:
        """Run a failed job again as its next attempt (its submitter or an admin); 409 unless
        it failed."""
        command = RetryBacktest(job_id=params.job_id(job_id))
        actor, admin = request.user.sub, is_admin(request.user)
        view, outcome = await container.commands().run(
            lambda: container.backtests.retry_backtest(command, actor, idempotency_key, admin=admin)
        )
        return Response(
            Backtest.of(view),
            status_code=HTTP_202_ACCEPTED,
            headers={POSITION: str(outcome.position)},
        )

    @get("/{job_id:str}/result", opt=READ, sync_to_thread=True, responses=RESULT_PROBLEMS)
    def result(self, job_id: JobIdPath, container: Container) -> BacktestResult:
        """Freqtrade's metrics and per-pair results of a completed job; 409 before that."""
        view, result = _result(container, job_id)
        return BacktestResult(
            id=view.id,
            strategy=view.strategy,
            strategy_version=view.strategy_version,
            metrics=result.metrics,
            per_pair=result.per_pair,
            trade_count=result.trade_count,
            backtest_start=result.backtest_start,
            backtest_end=result.backtest_end,
            artifacts=sorted(view.artifacts),
            error=result.error,
        )

    @get(
        "/{job_id:str}/trades",
        opt=READ,
        sync_to_thread=True,
        responses=problems(*TOKEN, 400, 404, 409, 422),
    )
    def trades(
        self,
        job_id: JobIdPath,
        container: Container,
        limit: Annotated[int, Parameter(ge=1, le=1000, description="page size")] = 100,
        cursor: Cursor = None,
    ) -> TradePage:
        """The closed trades of a completed job, oldest first, with freqtrade's field names."""
        view, _ = _result(container, job_id)
        page = container.read_store.list_trades(view.id, limit=limit, cursor=cursor)
        return TradePage(
            items=[t for t in page.items if isinstance(t, Trade)], next_cursor=page.next_cursor
        )

    @get("/{job_id:str}/equity", opt=READ, sync_to_thread=True, responses=RESULT_PROBLEMS)
    def equity(self, job_id: JobIdPath, container: Container) -> Equity:
        """Equity after each closing time and the drawdown from the peak so far."""
        view, result = _result(container, job_id)
        points = result.equity
        return Equity(
            id=view.id,
            starting_balance=result.metrics.get("starting_balance"),
            max_drawdown=max((p.drawdown for p in points), default=0.0),
            points=points,
        )

    @get(
        "/{job_id:str}/artifacts/{name:str}",
        opt=READ,
        sync_to_thread=True,
        media_type="application/octet-stream",
        responses={200: _FILE, **problems(*TOKEN, 400, 404, 503)},
    )
    def artifact(self, job_id: JobIdPath, name: str, container: Container) -> Stream:
        """A file the run produced, e.g. freqtrade's own `freqtrade-result.zip`."""
        view = _job(container, params.job_id(job_id))
        key = view.artifacts.get(name)
        if key is None:
            raise NotFoundException(
                f"backtest job {view.id} has no artifact {name!r}; it has {sorted(view.artifacts)}"
            )
        try:
            stored = container.artifacts.stream(key)
        except FileNotFoundError:
            raise NotFoundException(
                f"artifact {name!r} of job {view.id} is no longer stored"
            ) from None
        # Streamed in chunks as the store hands them over (from S3: as they arrive), so a large
        # file never sits whole in the server's memory.
        return Stream(
            stored.chunks,
            media_type="application/octet-stream",
            headers={
                "Content-Disposition": f'attachment; filename="{view.id}-{name}"',
                "Content-Length": str(stored.size),
            },
        )

    @get(
        "/{job_id:str}/events", opt=READ, sync_to_thread=True, responses=problems(*TOKEN, 400, 404)
    )
    def events(self, job_id: JobIdPath, container: Container) -> list[JobEvent]:
        """The job's own events, oldest first, read from the event store (the audit trail)."""
        view = _job(container, params.job_id(job_id))
        return [_job_event(stored) for stored in container.store.aggregate_history(view.id)]


def _job_event(stored: StoredEvent) -> JobEvent:
    event = stored.event
    return JobEvent(
        position=stored.position,
        version=event.originator_version,
        type=type(event).__name__,
        timestamp=event.timestamp,
        data={k: v for k, v in vars(event).items() if k not in _ENVELOPE},
    )


def _job(container: Container, job_id: UUID) -> BacktestJobView:
    view = container.find(lambda: container.read_store.get_job(job_id))
    if view is None:
        raise NotFoundException(f"backtest job {job_id} does not exist")
    return view


def _result(container: Container, raw_id: str) -> tuple[BacktestJobView, BacktestResultView]:
    view = _job(container, params.job_id(raw_id))
    if view.status != "completed":
        raise ResultNotReady(
            f"backtest job {view.id} is {view.status}; results exist once it completed"
        )
    result = container.read_store.get_result(view.id)
    if result is None:  # written with the job's document; absent only while a rebuild swaps
        raise ResultNotReady(f"the result of backtest job {view.id} is being indexed; try again")
    return view, result
