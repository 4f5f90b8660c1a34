"""The gateway: forwards `/api/v1/proxy/<service>/<path>` to the platform's other services.

Bodies stream in both directions (httpx streams the request from the ASGI receive channel and
the response back chunk by chunk), so a large download does not grow the API's memory. Each
service has a pooled client with bounded connections, created on the server's loop. The
caller's credentials never leave: `Authorization` (and any `X-Forwarded-*`, `Forwarded` or
`X-Real-IP` the caller sent) is replaced by the gateway's own values, and a header that only
differs from one of those by `_` for `-` is dropped (some servers fold `_` into `-`, so
`x_forwarded_user` would reach them as `X-Forwarded-User`). Answers lose `Set-Cookie` (it would
set a cookie under the API's origin) and gain `X-Content-Type-Options: nosniff`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote

import httpx

SERVICES = ("strategy-service", "data-collection", "mlflow")
# RFC 9110 7.6.1: hop-by-hop headers, and the ones the proxy itself sets or must not pass on.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_NOT_FORWARDED = HOP_BY_HOP | {
    "host",
    "authorization",
    "cookie",  # the API's own session material, if any, is not the downstream's business
    "x-request-id",
    "forwarded",  # RFC 7239; ours replaces it
    "x-real-ip",
}
# The caller may not speak for the gateway: every `X-Forwarded-*` header it sent is dropped and
# the gateway sends its own (the user, the roles, and where the request came from).
_FORWARDED_PREFIX = "x-forwarded-"
# A downstream's cookies would be set under the API's origin: they stay behind.
_NOT_RETURNED = HOP_BY_HOP | {"x-request-id", "set-cookie", "set-cookie2"}


def _protected(name: str) -> bool:
    """Whether the caller may not send this header downstream; `name` is lower case. It is
    read with `_` as `-` (`x_forwarded_user`, `X_Real_IP`, `x-forwarded_roles`): such a name
    is dropped, never folded, as servers that fold it would take it for the protected one."""
    folded = name.replace("_", "-")
    return folded in _NOT_FORWARDED or folded.startswith(_FORWARDED_PREFIX)


@dataclass(frozen=True)
class Origin:
    """Where a request reached the gateway: the peer's address, the Host it asked for, the
    scheme and the gateway's own path prefix. The gateway states these itself, whatever the
    caller claimed (it is the first hop this service trusts)."""

    client: str
    host: str
    proto: str
    prefix: str

    def headers(self) -> list[tuple[bytes, bytes]]:
        node = f'"[{self.client}]"' if ":" in self.client else self.client
        forwarded = f'for={node};host="{self.host}";proto={self.proto}'
        return [
            (b"x-forwarded-for", self.client.encode("latin-1")),
            (b"x-forwarded-host", self.host.encode("latin-1")),
            (b"x-forwarded-proto", self.proto.encode("latin-1")),
            (b"x-forwarded-prefix", self.prefix.encode("latin-1")),
            (b"forwarded", forwarded.encode("latin-1")),
            (b"x-real-ip", self.client.encode("latin-1")),
        ]


class EscapingPath(ValueError):
    """A path that would leave its service (`..`, encoded or not, or an absolute URL)."""


def downstream_path(raw: str) -> str:
    """Check the raw (still percent-encoded) path after `/proxy/<service>/`; return it as it
    goes downstream. Refused, once decoded: a `.` or `..` segment, a backslash or NUL, a `%`
    (a double encoding, the classic way to smuggle `..` past a check), a leading `/` (a
    network-path reference) and a `:` in the first segment (a scheme: an absolute URL).
    PATH_PATTERN says the same to the OpenAPI document."""
    decoded = unquote(raw)
    if any(bad in decoded for bad in ("\\", "\x00", "%")):
        raise EscapingPath("a backslash, NUL or '%' in the decoded path")
    segments = decoded.split("/")
    if decoded and not segments[0]:
        raise EscapingPath("an absolute path; give a path relative to the service")
    if ":" in segments[0]:
        raise EscapingPath("an absolute URL (a ':' in the first segment)")
    if any(part in (".", "..") for part in segments):
        raise EscapingPath("'.' and '..' segments are not allowed")
    return raw


def _segment(excluded: str) -> str:
    """A path segment of characters not in `excluded`, other than `.` and `..` (no lookahead:
    the fuzzer that checks the document draws from this pattern)."""
    other = f"[^/{excluded}]"
    not_dot = f"[^./{excluded}]"
    return rf"(?:{not_dot}{other}*|\.{not_dot}{other}*|\.\.{other}+)"


_EXCLUDED = r"\\%\u0000"
PATH_PATTERN = rf"^(?:{_segment(_EXCLUDED + ':')}(?:/(?:{_segment(_EXCLUDED)})?)*)?$"


def forwarded_headers(
    headers: Iterable[tuple[bytes, bytes]],
    user: str,
    roles: Iterable[str],
    request_id: str,
    origin: Origin | None = None,
) -> list[tuple[bytes, bytes]]:
    """The caller's headers minus hop-by-hop ones (and those `Connection` names), minus its
    credentials and whatever it claimed about forwarding, plus who it is, where the request
    came from and the request id."""
    pairs = list(headers)
    named = {
        token.strip().lower()
        for name, value in pairs
        if name.lower() == b"connection"
        for token in value.decode("latin-1").split(",")
    }
    kept = [
        (name, value)
        for name, value in pairs
        if not _protected(key := name.decode("latin-1").lower()) and key not in named
    ]
    return [
        *kept,
        *(origin.headers() if origin is not None else ()),
        (b"x-forwarded-user", user.encode("utf-8")),
        (b"x-forwarded-roles", ",".join(sorted(roles)).encode("utf-8")),
        (b"x-request-id", request_id.encode("ascii")),
    ]


def returned_headers(response: httpx.Response) -> list[tuple[str, str]]:
    """The downstream's response headers minus hop-by-hop ones and cookies, plus `nosniff` (a
    downstream's body must not be sniffed into HTML or script under the API's origin).
    `Content-Length` stays: the raw body is relayed byte for byte (still encoded), so a client
    sees the download's size."""
    named = {
        token.strip().lower()
        for token in response.headers.get("connection", "").split(",")
        if token.strip()
    }
    kept = [
        (name, value)
        for name, value in response.headers.multi_items()
        if name.lower() not in _NOT_RETURNED
        and name.lower() not in named
        and name.lower() != "x-content-type-options"
    ]
    return [*kept, ("x-content-type-options", "nosniff")]


@dataclass
class Gateway:
    """Pooled clients of the downstream services, by name."""

    urls: dict[str, str]
    timeout_seconds: float
    max_connections: int
    _clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    def client(self, service: str) -> httpx.AsyncClient:
        client = self._clients.get(service)
        if client is None:
            client = httpx.AsyncClient(
                base_url=self.urls[service].rstrip("/") + "/",
                timeout=httpx.Timeout(self.timeout_seconds, pool=min(self.timeout_seconds, 5.0)),
                limits=httpx.Limits(
                    max_connections=self.max_connections,
                    max_keepalive_connections=max(self.max_connections // 4, 1),
                ),
                follow_redirects=False,  # a redirect is the caller's to follow, through us
                trust_env=False,  # no proxy variables of the host in between
            )
            self._clients[service] = client
        return client

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()


async def relay(response: httpx.Response) -> AsyncIterator[bytes]:
    """The downstream body as it arrives; the connection goes back to the pool at the end."""
    try:
        async for chunk in response.aiter_raw():
            yield chunk
    finally:
        await response.aclose()
