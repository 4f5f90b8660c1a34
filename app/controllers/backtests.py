"""Backtest endpoints: submit and cancel (commands), and the queries over the read model."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import Parameter
from litestar.status_codes import HTTP_202_ACCEPTED

from app import params
from app.auth import READ, RESEARCH, Principal
from app.bootstrap import Container
from app.params import JobIdPath
from app.problems import ResultNotReady
from app.schemas import Backtest, BacktestCreate, BacktestPage, JobEvent, JobStatusFilter
from commands.messages import CancelBacktest, SubmitBacktest
from commands.views import BacktestJobView

IdempotencyKey = Annotated[
    str | None,
    Parameter(header="Idempotency-Key", min_length=1, max_length=200, required=False),
]
Limit = Annotated[int, Parameter(ge=1, le=200, description="page size")]
_ENVELOPE = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})


class BacktestController(Controller):
    path = "/api/v1/backtests"
    tags = ["backtests"]

    @post("", guards=[RESEARCH], status_code=HTTP_202_ACCEPTED, sync_to_thread=True)
    def submit(
        self,
        data: BacktestCreate,
        request: Request[Principal, Any, Any],
        container: Container,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Backtest]:
        """Submit a backtest; it is queued for a worker. Answers 202 with the job."""
        command = SubmitBacktest(**msgspec.structs.asdict(data) | {"pairs": tuple(data.pairs)})
        view, outcome = container.backtests.submit_backtest(
            command, request.user.sub, idempotency_key
        )
        container.settle(outcome)
        return Response(
            Backtest.of(view),
            status_code=HTTP_202_ACCEPTED,
            headers={"Location": f"/api/v1/backtests/{view.id}"},
        )

    @get("", guards=[READ], sync_to_thread=True)
    def list_backtests(
        self,
        container: Container,
        status: JobStatusFilter | None = None,
        strategy: Annotated[str | None, Parameter(max_length=64)] = None,
        limit: Limit = 50,
        cursor: Annotated[str | None, Parameter(max_length=200)] = None,
    ) -> BacktestPage:
        """Jobs, newest first; filter by `status` and `strategy`."""
        page = container.read_store.list_jobs(
            status=status.value if status else None, strategy=strategy, limit=limit, cursor=cursor
        )
        return BacktestPage(
            items=[Backtest.of(v) for v in page.items if isinstance(v, BacktestJobView)],
            next_cursor=page.next_cursor,
        )

    @get("/{job_id:str}", guards=[READ], sync_to_thread=True)
    def show(self, job_id: JobIdPath, container: Container) -> Backtest:
        """One job: status, progress, times, error and attempt."""
        return Backtest.of(_job(container, params.job_id(job_id)))

    @post(
        "/{job_id:str}/cancel",
        guards=[RESEARCH],
        status_code=HTTP_202_ACCEPTED,
        sync_to_thread=True,
    )
    def cancel(
        self,
        job_id: JobIdPath,
        request: Request[Principal, Any, Any],
        container: Container,
        idempotency_key: IdempotencyKey = None,
    ) -> Backtest:
        """Cancel a job; 409 when it already finished."""
        view, outcome = container.backtests.cancel_backtest(
            CancelBacktest(job_id=params.job_id(job_id)), request.user.sub, idempotency_key
        )
        container.settle(outcome)
        return Backtest.of(view)

    @get("/{job_id:str}/result", guards=[READ], sync_to_thread=True)
    def result(self, job_id: JobIdPath, container: Container) -> dict[str, Any]:
        """Metrics of a completed job; 409 while it is not completed."""
        view = _completed(container, job_id)
        return {"id": str(view.id), "metrics": view.summary or {}, "per_pair": []}

    @get("/{job_id:str}/trades", guards=[READ], sync_to_thread=True)
    def trades(self, job_id: JobIdPath, container: Container) -> dict[str, Any]:
        """The trades of a completed job; 409 while it is not completed."""
        _completed(container, job_id)
        raise ResultNotReady(f"no trade records are stored for backtest job {job_id}")

    @get("/{job_id:str}/equity", guards=[READ], sync_to_thread=True)
    def equity(self, job_id: JobIdPath, container: Container) -> dict[str, Any]:
        """The equity curve of a completed job; 409 while it is not completed."""
        _completed(container, job_id)
        raise ResultNotReady(f"no equity curve is stored for backtest job {job_id}")

    @get("/{job_id:str}/events", guards=[READ], sync_to_thread=True)
    def events(self, job_id: JobIdPath, container: Container) -> list[JobEvent]:
        """The job's own events, oldest first, read from the event store (the audit trail)."""
        view = _job(container, params.job_id(job_id))
        return [
            JobEvent(
                version=e.originator_version,
                type=type(e).__name__,
                timestamp=e.timestamp,
                data={k: v for k, v in vars(e).items() if k not in _ENVELOPE},
            )
            for e in container.store.aggregate_events(view.id)
        ]


def _job(container: Container, job_id: UUID) -> BacktestJobView:
    view = container.read_store.get_job(job_id)
    if view is None:
        raise NotFoundException(f"backtest job {job_id} does not exist")
    return view


def _completed(container: Container, raw_id: str) -> BacktestJobView:
    view = _job(container, params.job_id(raw_id))
    if view.status != "completed":
        raise ResultNotReady(
            f"backtest job {view.id} is {view.status}; results exist once it completed"
        )
    return view
