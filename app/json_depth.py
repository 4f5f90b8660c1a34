"""Request bodies nested deeper than MAX_DEPTH are refused (400) before Litestar decodes them."""

from __future__ import annotations

from typing import Any

from litestar import Request

from projections.json_depth import TooDeep, too_deep


async def refuse_deep_bodies(request: Request[Any, Any, Any]) -> None:
    """`before_request` of every route: one that decodes a body (a `data` parameter) gets it
    only when it is at most MAX_DEPTH deep (400 otherwise). Other routes (the gateway, which
    streams bodies through) are not read here."""
    takes_body = "data" in request.route_handler.parsed_fn_signature.parameters
    if takes_body and too_deep(await request.body()):
        raise TooDeep()
