"""Operations on a strategy: deployments, rollbacks, their history, and the audit trail."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.status_codes import HTTP_201_CREATED

from app.auth import OPERATE, READ, Principal
from app.bootstrap import Container
from app.controllers.backtests import POSITION, IdempotencyKey
from app.openapi import BODY, COMMAND, TOKEN, problems
from app.params import NamePath
from app.schemas import Environment, Number
from commands.messages import DeployVersion, RollBack
from commands.promotion_views import RevisionView
from commands.views import LiveRevision
from domain.identity import strategy_id, strategy_version_id
from domain.strategy import Strategy
from projections.audit import AuditEntry, audit_trail

COMMAND_PROBLEMS = problems(*COMMAND, *BODY, 404)  # 404: no such strategy
QUERY_PROBLEMS = problems(*TOKEN, 400, 404)


class DeploymentCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    version: Number
    environment: Environment


class RollbackCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    environment: Environment
    to_revision: Number | None = None


class Deployments(msgspec.Struct, frozen=True):
    name: str
    live: dict[str, LiveRevision]
    environments: dict[str, list[RevisionView]]


class History(msgspec.Struct, frozen=True):
    name: str
    entries: list[AuditEntry]


class OperationsController(Controller):
    path = "/api/v1/strategies"
    tags = ["operations"]

    @post(
        "/{name:str}/deployments",
        opt=OPERATE,
        status_code=HTTP_201_CREATED,
        sync_to_thread=True,
        responses=COMMAND_PROBLEMS,
    )
    def deploy(
        self,
        name: NamePath,
        data: DeploymentCreate,
        request: Request[Principal, Any, Any],
        container: Container,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[RevisionView]:
        """Run a version promoted to that stage in `environment`, as a new revision."""
        command = DeployVersion(name=name, number=data.version, environment=data.environment)
        view, outcome = container.promotions.deploy(command, request.user.sub, idempotency_key)
        container.settle(outcome)
        return Response(
            view, status_code=HTTP_201_CREATED, headers={POSITION: str(outcome.position)}
        )

    @post(
        "/{name:str}/rollback",
        opt=OPERATE,
        status_code=HTTP_201_CREATED,
        sync_to_thread=True,
        responses=COMMAND_PROBLEMS,
    )
    def rollback(
        self,
        name: NamePath,
        data: RollbackCreate,
        request: Request[Principal, Any, Any],
        container: Container,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[RevisionView]:
        """Go back to the previous revision's version (or `to_revision`'s), as a new revision."""
        command = RollBack(name=name, environment=data.environment, to_revision=data.to_revision)
        view, outcome = container.promotions.rollback(command, request.user.sub, idempotency_key)
        container.settle(outcome)
        return Response(
            view, status_code=HTTP_201_CREATED, headers={POSITION: str(outcome.position)}
        )

    @get("/{name:str}/deployments", opt=READ, sync_to_thread=True, responses=QUERY_PROBLEMS)
    def deployments(self, name: NamePath, container: Container) -> Deployments:
        """Every revision per environment, and what runs now."""
        view = container.find(lambda: container.read_store.get_strategy(name))
        if view is None:
            raise NotFoundException(f"no strategy named {name!r} is registered")
        return Deployments(name=view.name, live=view.live, environments=view.deployments)

    @get("/{name:str}/history", opt=READ, sync_to_thread=True, responses=QUERY_PROBLEMS)
    def history(self, name: NamePath, container: Container) -> History:
        """Every registration, maintainer change, promotion, decision, stage change, deployment
        and rollback, with actor and time, replayed from the event store."""
        sid = strategy_id(name)
        if not container.store.exists(sid):
            raise NotFoundException(f"no strategy named {name!r} is registered")
        strategy: Strategy = container.store.load(sid, "strategy", name)
        events = container.store.aggregate_history(sid)
        for number in strategy.versions:
            events += container.store.aggregate_history(strategy_version_id(name, number))
        return History(name=name, entries=audit_trail(events))
