"""`X-Request-ID` on every response: the caller's (when it is a sane token) or a new one.

A pure ASGI middleware, first in the chain, so even a 401 or a 404 carries the id. The id is
kept in a context variable for the gateway, which forwards it, and bound into the log context,
so every line logged for the request carries it; the request ends with one access line.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextvars import ContextVar

import structlog
from litestar.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
_SANE = re.compile(rb"^[A-Za-z0-9._:@/+=-]{1,128}$")
current_request_id: ContextVar[str] = ContextVar("request_id", default="")
ACCESS = logging.getLogger("tradai.access")


def incoming(scope: Scope) -> str:
    """The caller's request id, if it sent a sane one; otherwise a new one."""
    for name, value in scope.get("headers", ()):
        if name == HEADER:
            if _SANE.match(value):
                return value.decode("ascii")
            break
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = incoming(scope)
        token = current_request_id.set(request_id)
        encoded = request_id.encode("ascii")
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != HEADER]
                message["headers"] = [*headers, (HEADER, encoded)]
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                current_request_id.reset(token)
                if ACCESS.isEnabledFor(logging.INFO):  # the cheap check first: a hot path
                    ACCESS.info(
                        "%s %s %s",
                        scope.get("method", "WEBSOCKET"),
                        scope["path"],
                        status,
                        extra={
                            "status": status,
                            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                        },
                    )
