"""Promotion endpoints: request (gated), approve or reject (four eyes), list and show."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from app import params
from app.auth import APPROVE, READ, RESEARCH, Principal
from app.bootstrap import Container
from app.controllers.backtests import POSITION, IdempotencyKey, Limit
from app.openapi import BODY, COMMAND, TOKEN, problems
from app.params import Cursor, NamePath, PromotionIdPath, VersionPath
from app.schemas import TargetStage
from commands.messages import DecidePromotion, RequestPromotion
from commands.promotion_views import PromotionView


class PromotionCreate(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    target_stage: TargetStage
    backtest_id: UUID


class Rejection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class PromotionPage(msgspec.Struct, frozen=True):
    items: list[PromotionView]
    next_cursor: str | None


class PromotionController(Controller):
    path = "/api/v1"
    tags = ["promotions"]

    @post(
        "/strategies/{name:str}/versions/{version:str}/promotions",
        opt=RESEARCH,
        status_code=HTTP_201_CREATED,
        sync_to_thread=True,
        responses=problems(*COMMAND, *BODY, 404),
    )
    def request_promotion(
        self,
        name: NamePath,
        version: VersionPath,
        data: PromotionCreate,
        request: Request[Principal, Any, Any],
        container: Container,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[PromotionView]:
        """Ask to promote a version; 422 lists every gate when one fails (nothing is recorded)."""
        command = RequestPromotion(
            name=name,
            number=params.version_number(version),
            target_stage=data.target_stage,
            backtest_id=data.backtest_id,
        )
        view, outcome = container.promotions.request_promotion(
            command, request.user.sub, idempotency_key
        )
        container.settle(outcome)
        headers = {"Location": f"/api/v1/promotions/{view.id}", POSITION: str(outcome.position)}
        return Response(view, status_code=HTTP_201_CREATED, headers=headers)

    @post(
        "/promotions/{promotion_id:str}/approve",
        opt=APPROVE,
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        responses=problems(*COMMAND, 404),
    )
    def approve(
        self,
        promotion_id: PromotionIdPath,
        request: Request[Principal, Any, Any],
        container: Container,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[PromotionView]:
        """Approve: the version takes the stage. Not by the requester (403); decided ones: 409."""
        return self._decide(promotion_id, True, "", request, container, idempotency_key)

    @post(
        "/promotions/{promotion_id:str}/reject",
        opt=APPROVE,
        status_code=HTTP_200_OK,
        sync_to_thread=True,
        responses=problems(*COMMAND, *BODY, 404),
    )
    def reject(
        self,
        promotion_id: PromotionIdPath,
        data: Rejection,
        request: Request[Principal, Any, Any],
        container: Container,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[PromotionView]:
        """Reject with a reason. Never by the requester (403)."""
        return self._decide(promotion_id, False, data.reason, request, container, idempotency_key)

    @get("/promotions", opt=READ, sync_to_thread=True, responses=problems(*TOKEN, 400, 422))
    def list_promotions(
        self,
        container: Container,
        status: Annotated[str | None, Parameter(pattern="^(pending|approved|rejected)$")] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> PromotionPage:
        """Promotions, newest first; filter by `status`."""
        page = container.read_store.list_promotions(status=status, limit=limit, cursor=cursor)
        return PromotionPage(
            items=[p for p in page.items if isinstance(p, PromotionView)],
            next_cursor=page.next_cursor,
        )

    @get(
        "/promotions/{promotion_id:str}",
        opt=READ,
        sync_to_thread=True,
        responses=problems(*TOKEN, 400, 404),
    )
    def show(self, promotion_id: PromotionIdPath, container: Container) -> PromotionView:
        return _promotion(container, promotion_id)

    def _decide(
        self,
        raw_id: str,
        approve: bool,
        reason: str,
        request: Request[Principal, Any, Any],
        container: Container,
        key: str | None,
    ) -> Response[PromotionView]:
        known = _promotion(container, raw_id)
        command = DecidePromotion(
            promotion_id=known.id,
            name=known.strategy,
            number=known.version,
            approve=approve,
            reason=reason,
        )
        view, outcome = container.promotions.decide_promotion(command, request.user.sub, key)
        container.settle(outcome)
        return Response(view, status_code=HTTP_200_OK, headers={POSITION: str(outcome.position)})


def _promotion(container: Container, raw_id: str) -> PromotionView:
    try:
        promotion_id = UUID(raw_id)
    except ValueError:
        raise params.BadParameter(
            "promotion_id", f"{raw_id!r} is not a promotion id (a UUID)"
        ) from None
    view = container.find(lambda: container.read_store.get_promotion(promotion_id))
    if view is None:
        raise NotFoundException(f"promotion {promotion_id} does not exist")
    return view
