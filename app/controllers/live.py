"""Live streams: short-lived WebSocket tokens and the WebSocket route (API.md, "Live streams")."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from litestar import Request, WebSocket, post, websocket
from litestar.exceptions import NotAuthorizedException, WebSocketDisconnect

from app.auth import READ, WS_AUDIENCE, Principal, mint_token, read_token
from app.bootstrap import Container
from app.openapi import WRITE, problems
from projections.live import LiveClient

POLICY_VIOLATION = 1008
log = logging.getLogger(__name__)


class WsToken(msgspec.Struct, frozen=True):
    token: str
    expires_at: datetime


# API.md lists these under "Live streams" as /ws/token and /ws; both spellings are served,
# under the /api/v1 base like every other resource and without it.
TOKEN_PATHS = ["/api/v1/ws/token", "/ws/token"]
STREAM_PATHS = ["/api/v1/ws", "/ws"]


@post(
    TOKEN_PATHS,
    opt=READ,
    sync_to_thread=False,
    status_code=200,
    tags=["live"],
    responses=problems(*WRITE),
)
def ws_token(request: Request[Principal, Any, Any], container: Container) -> WsToken:
    """A token for `WS /api/v1/ws?token=...`, valid for a minute (BACKEND_WS_TOKEN_TTL_SECONDS)."""
    ttl = container.settings.ws_token_ttl_seconds
    principal = request.user
    token = mint_token(container.jwt_secret, principal.sub, principal.roles, ttl, WS_AUDIENCE)
    return WsToken(token=token, expires_at=datetime.now(UTC) + timedelta(seconds=ttl))


@websocket(STREAM_PATHS, tags=["live"])
async def live_stream(socket: WebSocket[Any, Any, Any], container: Container) -> None:
    """Subscribe with {"action": "subscribe", "stream": ..., "since": <position>?}."""
    await socket.accept()
    try:
        read_token(container.jwt_secret, socket.query_params.get("token", ""), WS_AUDIENCE)
    except NotAuthorizedException as error:
        await socket.close(code=POLICY_VIOLATION, reason=str(error.detail)[:120])
        return
    if container.hub is None:
        await socket.close(code=1011, reason="live streams are not running")
        return

    async def close(code: int, reason: str) -> None:
        try:
            await socket.close(code=code, reason=reason[:120])
        except Exception:
            log.exception("closing websocket failed")

    client = LiveClient(
        container.hub,
        container.store.read,
        socket.send_text,
        close,
        container.settings.ws_buffer_messages,
        read_aggregate=container.store.aggregate_history,
    )
    client.start()
    try:
        while not client.closed:
            client.request(await socket.receive_text())
    except (WebSocketDisconnect, RuntimeError, asyncio.CancelledError):
        pass
    finally:
        await client.dispose()
