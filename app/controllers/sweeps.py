"""Parameter-sweep endpoints: submit and cancel (commands), and the queries over the read model.
A sweep's trials are ordinary backtest jobs: `GET /backtests?sweep=<id>` lists them."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import Parameter
from litestar.status_codes import HTTP_202_ACCEPTED

from app import params
from app.auth import READ, RESEARCH, Principal, is_admin
from app.bootstrap import Container
from app.controllers.backtests import POSITION, IdempotencyKey, Limit
from app.openapi import BODY, COMMAND, TOKEN, problems
from app.params import Cursor, SweepIdPath
from app.rate_limit import COST, SWEEP_COST
from app.schemas_sweeps import Sweep, SweepCreate, SweepPage, TrialPage
from commands.messages import CancelSweep, SubmitSweep
from commands.sweep_views import SweepView

SweepStatus = Annotated[str | None, Parameter(pattern="^(running|completed|cancelled|failed)$")]
TrialOffset = Annotated[int, Parameter(ge=0, le=1_000_000, description="first trial number")]
TrialLimit = Annotated[int, Parameter(ge=1, le=1000, description="trials per page")]
NO_TRIALS = TrialPage(items=[], offset=0, next_offset=None)


def trial_page(view: SweepView, offset: int, limit: int) -> TrialPage:
    items = view.trials[offset : offset + limit]
    following = offset + limit
    return TrialPage(
        items=list(items),
        offset=offset,
        next_offset=following if following < len(view.trials) else None,
    )


class SweepController(Controller):
    path = "/api/v1/sweeps"
    tags = ["sweeps"]

    @post(
        "",
        opt=RESEARCH | {COST: SWEEP_COST},
        status_code=HTTP_202_ACCEPTED,
        sync_to_thread=True,
        responses=problems(*COMMAND, *BODY),
    )
    def submit(
        self,
        data: SweepCreate,
        request: Request[Principal, Any, Any],
        container: Container,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Sweep]:
        """Start a sweep: its trials are backtests, asked a few at a time and run by the
        workers like any other. Answers 202 with the sweep."""
        command = SubmitSweep(
            strategy=data.strategy, strategy_version=data.strategy_version,
            pairs=tuple(data.pairs), timeframe=data.timeframe, timerange=data.timerange,
            exchange=data.exchange, stake_amount=data.stake_amount,
            max_open_trades=data.max_open_trades, starting_balance=data.starting_balance,
            fee=data.fee, space=data.space_dict(), method=data.method,
            max_trials=data.max_trials, objective=data.objective, direction=data.direction,
            seed=data.seed, priority=data.priority,
        )  # fmt: skip
        view, outcome = container.sweeps.submit_sweep(command, request.user.sub, idempotency_key)
        container.settle(outcome)
        return Response(
            Sweep.of(view, trial_page(view, 0, 100)),
            status_code=HTTP_202_ACCEPTED,
            headers={"Location": f"/api/v1/sweeps/{view.id}", POSITION: str(outcome.position)},
        )

    @get("", opt=READ, sync_to_thread=True, responses=problems(*TOKEN, 400, 422))
    def list_sweeps(
        self,
        container: Container,
        status: SweepStatus = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> SweepPage:
        """Sweeps, newest first; filter by `status`. Trials are on each sweep's own page."""
        page = container.read_store.list_sweeps(status=status, limit=limit, cursor=cursor)
        return SweepPage(
            items=[Sweep.of(v, NO_TRIALS) for v in page.items if isinstance(v, SweepView)],
            next_cursor=page.next_cursor,
        )

    @get("/{sweep_id:str}", opt=READ, sync_to_thread=True, responses=problems(*TOKEN, 400, 404))
    def show(
        self,
        sweep_id: SweepIdPath,
        container: Container,
        trials_offset: TrialOffset = 0,
        trials_limit: TrialLimit = 100,
    ) -> Sweep:
        """One sweep: status, counts, the best trial, and a page of its trials in order."""
        view = _sweep(container, sweep_id)
        return Sweep.of(view, trial_page(view, trials_offset, trials_limit))

    @post(
        "/{sweep_id:str}/cancel",
        opt=RESEARCH,
        status_code=HTTP_202_ACCEPTED,
        sync_to_thread=True,
        responses=problems(*COMMAND, 404),
    )
    def cancel(
        self,
        sweep_id: SweepIdPath,
        request: Request[Principal, Any, Any],
        container: Container,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Sweep]:
        """Stop a sweep: no more trials; trials not run yet are cancelled, finished ones kept.
        Cancelling a finished sweep is 409."""
        known = _sweep(container, sweep_id)
        command = CancelSweep(sweep_id=known.id)
        view, outcome = container.sweeps.cancel_sweep(
            command, request.user.sub, idempotency_key, admin=is_admin(request.user)
        )
        container.settle(outcome)
        return Response(
            Sweep.of(view, trial_page(view, 0, 100)),
            status_code=HTTP_202_ACCEPTED,
            headers={POSITION: str(outcome.position)},
        )


def _sweep(container: Container, raw_id: str) -> SweepView:
    try:
        sweep_id = UUID(raw_id)
    except ValueError:
        raise params.BadParameter("sweep_id", f"{raw_id!r} is not a sweep id (a UUID)") from None
    view = container.find(lambda: container.read_store.get_sweep(sweep_id))
    if view is None:
        raise NotFoundException(f"sweep {sweep_id} does not exist")
    return view
