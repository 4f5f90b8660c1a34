"""Gateway routes: `/api/v1/proxy/<service>/<path>` to the Strategy Service, Data Collection and
MLflow (API.md, Gateway). Reading (GET, HEAD) needs `viewer`; anything else `researcher`."""

from __future__ import annotations

import re
from typing import Annotated, Any

import httpx
from litestar import Request, Response, route
from litestar.datastructures import State
from litestar.enums import HttpMethod
from litestar.exceptions import NotFoundException
from litestar.openapi import ResponseSpec
from litestar.params import Parameter
from litestar.response import Stream

from app.auth import READ, RESEARCH, Principal
from app.gateway import (
    PATH_PATTERN,
    SERVICES,
    EscapingPath,
    Gateway,
    Origin,
    downstream_path,
    forwarded_headers,
    relay,
    returned_headers,
)
from app.openapi import TOKEN, WRITE, problems
from app.params import BadParameter
from app.problems import problem
from app.request_id import current_request_id

PATH = "/api/v1/proxy/{service:str}/{path:path}"
ServicePath = Annotated[
    str, Parameter(description="the downstream service", schema_extra={"enum": list(SERVICES)})
]
DownstreamPath = Annotated[
    str,
    Parameter(
        description="the path on that service (no '.' or '..' segments, no '\\', '%' or ':' "
        "in the first segment once decoded: 400)",
        schema_extra={"pattern": PATH_PATTERN},  # checked by hand in forward(): 400
    ),
]
_ANSWER = ResponseSpec(
    data_container=Any,  # whatever the service answers: no schema to hold it to
    media_type="*/*",
    description="the downstream service's answer, status and headers as it gave them",
    generate_examples=False,
)
_DOWNSTREAM = (404, 502, 503, 504)
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


def origin_of(request: Request[Principal, Any, Any], service: str) -> Origin:
    """What the gateway itself saw of the request: the peer, the Host (when it is a plain
    host[:port]; otherwise the address it listens on), the scheme and its own prefix."""
    client = request.scope.get("client")
    server = request.scope.get("server")
    host = request.headers.get("host", "")
    if not _HOST.match(host):
        host = f"{server[0]}:{server[1]}" if server else "unknown"
    return Origin(
        client=client[0] if client else "unknown",
        host=host,
        proto=request.scope.get("scheme", "http"),
        prefix=f"/api/v1/proxy/{service}",
    )


def _gateway(state: State) -> Gateway:
    gateway: Gateway = state.gateway
    return gateway


async def forward(service: str, request: Request[Principal, Any, Any]) -> Response[Any]:
    if service not in SERVICES:
        raise NotFoundException(
            f"no service named {service!r} behind the gateway; one of {', '.join(SERVICES)}"
        )
    gateway = _gateway(request.app.state)
    prefix = f"/api/v1/proxy/{service}/".encode()
    raw_path: bytes = request.scope.get("raw_path") or request.scope["path"].encode()
    raw = raw_path[len(prefix) :].decode("latin-1") if raw_path.startswith(prefix) else ""
    try:
        path = downstream_path(raw)
    except EscapingPath as error:
        raise BadParameter(
            "path", f"{error}: the path must stay inside the {service} service"
        ) from None
    query = request.scope.get("query_string", b"").decode("latin-1")
    headers = forwarded_headers(
        request.scope["headers"],
        request.user.sub,
        request.user.roles,
        current_request_id.get(),
        origin_of(request, service),
    )
    has_body = any(
        name in (b"content-length", b"transfer-encoding") for name, _ in request.scope["headers"]
    )
    client = gateway.client(service)
    outgoing = client.build_request(
        request.method,
        path + (f"?{query}" if query else ""),
        headers=headers,
        content=request.stream() if has_body else None,
    )
    try:
        answer = await client.send(outgoing, stream=True)
    except httpx.PoolTimeout:
        return problem(
            request,
            503,
            f"too many requests to {service} at once; try again",
            "downstream-busy",
            headers={"Retry-After": "1"},
        )
    except httpx.TimeoutException:
        return problem(
            request,
            504,
            f"{service} did not answer within {gateway.timeout_seconds:g} s",
            "downstream-timeout",
        )
    except httpx.HTTPError as error:
        return problem(
            request,
            502,
            f"{service} at {gateway.urls[service]} is unreachable: {error.__class__.__name__}",
            "downstream-unreachable",
        )
    return Stream(
        relay(answer),
        status_code=answer.status_code,
        headers=dict(returned_headers(answer)),
        media_type=answer.headers.get("content-type", "application/octet-stream"),
    )


_RESPONSES: dict[int, ResponseSpec] = {200: _ANSWER}


@route(
    PATH,
    http_method=[HttpMethod.GET, HttpMethod.HEAD],
    opt=READ,
    responses=_RESPONSES | problems(*TOKEN, 400, *_DOWNSTREAM),
    tags=["gateway"],
)
async def proxy_read(
    service: ServicePath, path: DownstreamPath, request: Request[Principal, Any, Any]
) -> Response[Any]:
    """Forward a GET or HEAD to the service (viewer)."""
    return await forward(service, request)


@route(
    PATH,
    http_method=[HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH, HttpMethod.DELETE],
    opt=RESEARCH,
    responses=_RESPONSES | problems(*WRITE, 400, 413, *_DOWNSTREAM),
    tags=["gateway"],
)
async def proxy_write(
    service: ServicePath, path: DownstreamPath, request: Request[Principal, Any, Any]
) -> Response[Any]:
    """Forward a POST, PUT, PATCH or DELETE to the service (researcher); the body streams."""
    return await forward(service, request)
