"""Live streams: short-lived WebSocket tokens and the WebSocket route (API.md, "Live streams")."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from litestar import Request, WebSocket, post, websocket
from litestar.exceptions import NotAuthorizedException, WebSocketDisconnect

from app.auth import READ, WS_AUDIENCE, Principal, mint_token, principal_of, read_claims
from app.bootstrap import Container
from app.live_sessions import LiveSessions, ReplayBudget, SessionRefused
from app.openapi import WRITE, problems
from projections.live import Hub, LiveClient

POLICY_VIOLATION = 1008
EXPIRED = "the token expired: get a new one from POST /ws/token and reconnect with since"
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
    """A token for `WS /api/v1/ws?token=...`, valid for a minute (BACKEND_WS_TOKEN_TTL_SECONDS).
    It opens one connection, which the server closes (1008) when the token expires."""
    ttl = container.settings.ws_token_ttl_seconds
    principal = request.user
    token = mint_token(container.jwt_secret, principal.sub, principal.roles, ttl, WS_AUDIENCE)
    return WsToken(token=token, expires_at=datetime.now(UTC) + timedelta(seconds=ttl))


@websocket(STREAM_PATHS, tags=["live"])
async def live_stream(socket: WebSocket[Any, Any, Any], container: Container) -> None:
    """Subscribe with {"action": "subscribe", "stream": ..., "since": <position>?}."""
    await socket.accept()
    settings = container.settings
    try:
        claims = read_claims(
            container.jwt_secret,
            socket.query_params.get("token", ""),
            WS_AUDIENCE,
            settings.jwt_max_ttl_seconds,
            require=["jti"],
        )
        user = principal_of(claims["sub"], claims.get("roles", [])).sub
    except NotAuthorizedException as error:
        await socket.close(code=POLICY_VIOLATION, reason=str(error.detail)[:120])
        return
    if container.hub is None:
        await socket.close(code=1011, reason="live streams are not running")
        return
    sessions: LiveSessions = socket.app.state.live_sessions
    try:
        sessions.admit(user, str(claims["jti"]), float(claims["exp"]))
    except SessionRefused as refused:
        await socket.close(code=POLICY_VIOLATION, reason=refused.reason[:120])
        return
    try:
        await _serve(socket, container, container.hub, sessions.budget(user), float(claims["exp"]))
    finally:
        sessions.release(user)


async def _serve(
    socket: WebSocket[Any, Any, Any],
    container: Container,
    hub: Hub,
    budget: ReplayBudget,
    expires: float,
) -> None:
    """Run one admitted connection until it ends, or its token expires."""

    async def close(code: int, reason: str) -> None:
        try:
            await socket.close(code=code, reason=reason[:120])
        except Exception:
            log.exception("closing websocket failed")

    client = LiveClient(
        hub,
        container.store.read,
        socket.send_text,
        close,
        container.settings.ws_buffer_messages,
        read_aggregate=container.store.aggregate_history,
        budget=budget,
    )
    client.start()
    # The stream lives no longer than its token: a client renews it and resumes with since.
    expiry = asyncio.get_running_loop().call_later(
        max(expires - time.time(), 0.0),
        lambda: asyncio.ensure_future(client.close(POLICY_VIOLATION, EXPIRED)),
    )
    try:
        while not client.closed:
            client.request(await socket.receive_text())
    except (WebSocketDisconnect, RuntimeError, asyncio.CancelledError):
        pass
    finally:
        expiry.cancel()
        await client.dispose()
