"""Strategy catalog endpoints: register a version (command) and the catalog queries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post
from litestar.exceptions import NotFoundException
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from app import params
from app.auth import READ, RESEARCH, Principal, is_admin
from app.bootstrap import Container
from app.controllers.backtests import POSITION, IdempotencyKey, Limit
from app.openapi import BODY, COMMAND, TOKEN, problems
from app.params import Cursor, NamePath, UserPath, VersionPath
from app.rate_limit import COST, REGISTER_COST
from app.schemas import (
    MaintainerCreate,
    Maintainers,
    StrategyDetail,
    StrategyPage,
    StrategySummary,
    StrategyVersionCreate,
    StrategyVersionDetail,
)
from commands.messages import AddMaintainer, RegisterStrategyVersion, RemoveMaintainer
from commands.promotion_views import promotion_view
from commands.views import BacktestJobView, StrategyView, strategy_version_view
from domain.identity import strategy_version_id


class StrategyController(Controller):
    path = "/api/v1/strategies"
    tags = ["strategies"]

    @post(
        "/{name:str}/versions",
        opt=RESEARCH | {COST: REGISTER_COST},
        status_code=HTTP_201_CREATED,
        sync_to_thread=True,
        responses=problems(*COMMAND, *BODY),
    )
    def register(
        self,
        name: NamePath,
        data: StrategyVersionCreate,
        request: Request[Principal, Any, Any],
        container: Container,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[StrategyVersionDetail]:
        """Register `code` as the next version (1, 2, ...) of strategy `name`."""
        command = RegisterStrategyVersion(
            name=name, code=data.code, parameters=data.parameters, description=data.description
        )
        view, outcome = container.strategies.register_strategy_version(
            command, request.user.sub, idempotency_key, admin=is_admin(request.user)
        )
        container.settle(outcome)
        return Response(
            StrategyVersionDetail.of(view),
            status_code=HTTP_201_CREATED,
            headers={
                "Location": f"/api/v1/strategies/{view.name}/versions/{view.version}",
                POSITION: str(outcome.position),
            },
        )

    @post(
        "/{name:str}/maintainers",
        opt=RESEARCH,
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        responses=problems(*COMMAND, *BODY, 404),
    )
    def add_maintainer(
        self,
        name: NamePath,
        data: MaintainerCreate,
        request: Request[Principal, Any, Any],
        container: Container,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Maintainers]:
        """Let `user` register versions of `name` (the owner or an admin grants it); granting
        it twice changes nothing."""
        command = AddMaintainer(name=name, user=data.user)
        view, outcome = container.strategies.change_maintainers(
            command, request.user.sub, idempotency_key, admin=is_admin(request.user)
        )
        container.settle(outcome)
        return Response(Maintainers.of(view), headers={POSITION: str(outcome.position)})

    @delete(
        "/{name:str}/maintainers/{user:str}",
        opt=RESEARCH,
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        responses=problems(*COMMAND, 404),
    )
    def remove_maintainer(
        self,
        name: NamePath,
        user: UserPath,
        request: Request[Principal, Any, Any],
        container: Container,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Maintainers]:
        """Take back `user`'s right to register versions of `name` (the owner or an admin)."""
        command = RemoveMaintainer(name=name, user=user)
        view, outcome = container.strategies.change_maintainers(
            command, request.user.sub, idempotency_key, admin=is_admin(request.user)
        )
        container.settle(outcome)
        return Response(Maintainers.of(view), headers={POSITION: str(outcome.position)})

    @get("", opt=READ, sync_to_thread=True, responses=problems(*TOKEN, 400, 422))
    def list_strategies(
        self,
        container: Container,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> StrategyPage:
        """The catalog: each strategy with its latest version and the version in each stage."""
        page = container.read_store.list_strategies(limit=limit, cursor=cursor)
        return StrategyPage(
            items=[StrategySummary.of(v) for v in page.items if isinstance(v, StrategyView)],
            next_cursor=page.next_cursor,
        )

    @get("/{name:str}", opt=READ, sync_to_thread=True, responses=problems(*TOKEN, 400, 404))
    def show(self, name: NamePath, container: Container) -> StrategyDetail:
        """One strategy and its versions."""
        view = container.find(lambda: container.read_store.get_strategy(name))
        if view is None:
            raise NotFoundException(f"no strategy named {name!r} is registered")
        return StrategyDetail.of(view, list(container.read_store.list_versions(name)))

    @get(
        "/{name:str}/versions/{version:str}",
        opt=READ,
        sync_to_thread=True,
        responses=problems(*TOKEN, 400, 404),
    )
    def version(
        self,
        name: NamePath,
        version: VersionPath,
        container: Container,
        at: Annotated[
            str | None,
            Parameter(
                description="ISO 8601 instant: the state then",
                schema_extra={"format": "date-time"},  # params.instant checks it (400)
            ),
        ] = None,
    ) -> StrategyVersionDetail:
        """One version: source, stage, promotions and linked backtests. With `at`, the state as
        of that instant, replayed from the event store."""
        number = params.version_number(version)
        if at is not None:
            return _as_of(container, name, number, params.instant("at", at))
        view = container.find(lambda: container.read_store.get_version(name, number))
        if view is None:
            raise NotFoundException(f"strategy {name!r} has no version {version}")
        promotions = container.read_store.load_promotions(view.promotions)
        return StrategyVersionDetail.of(
            view,
            promotions=[promotions[p] for p in view.promotions if p in promotions],
            backtests=_linked_backtests(container, name, number, None),
        )


def _linked_backtests(
    container: Container, name: str, number: int, until: datetime | None
) -> list[UUID]:
    """The newest backtests of this version (at most 500), oldest first."""
    page = container.read_store.list_jobs(status=None, strategy=name, limit=500, cursor=None)
    jobs = [
        j for j in page.items
        if isinstance(j, BacktestJobView) and j.strategy_version == number
        and (until is None or j.submitted_at <= until)
    ]  # fmt: skip
    return [j.id for j in reversed(jobs)]


def _as_of(container: Container, name: str, number: int, at: datetime) -> StrategyVersionDetail:
    vid = strategy_version_id(name, number)
    if not container.store.exists(vid):
        raise NotFoundException(f"strategy {name!r} has no version {number}")
    events = container.store.aggregate_events(vid)
    count = sum(1 for e in events if e.timestamp <= at)
    if count == 0:
        raise NotFoundException(
            f"strategy {name!r} version {number} did not exist at {at.isoformat()}"
        )
    aggregate = container.store.load_as_of(vid, count)
    view = strategy_version_view(aggregate)
    promotions = [promotion_view(aggregate, p) for p in aggregate.promotions]
    return StrategyVersionDetail.of(
        view, promotions=promotions, backtests=_linked_backtests(container, name, number, at), at=at
    )
