"""Bearer-JWT authentication (HS256, PyJWT) and role checks, as API.md describes them."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

import jwt
import msgspec
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.types import ASGIApp, Receive, Scope, Scopes, Send

ALGORITHM = "HS256"
ROLES = "roles"  # the key of a route's `opt` that names the roles admitted
ADMIN_PASSES = "admin_passes"  # the key of a route's `opt` that says whether admin is admitted
# WebSocket tokens carry this audience, so they open streams and nothing else, and API tokens
# (which have no audience) cannot be put into WebSocket URLs, where they would end up in logs.
WS_AUDIENCE = "tradai-ws"
VERIFIED_TOKENS = 10_000  # distinct live tokens remembered after their first verification


class Role(StrEnum):
    VIEWER = "viewer"
    RESEARCHER = "researcher"
    APPROVER = "approver"
    OPERATOR = "operator"
    WORKER = "worker"  # remote backtest workers: claim jobs and report on them, nothing else
    ADMIN = "admin"


class Principal(msgspec.Struct, frozen=True):
    """Who is calling: the token's subject and roles."""

    sub: str
    roles: frozenset[str]

    def has_any(self, roles: Iterable[Role]) -> bool:
        return Role.ADMIN in self.roles or any(role in self.roles for role in roles)


def mint_token(
    secret: str, sub: str, roles: Iterable[str], ttl_seconds: float, audience: str | None = None
) -> str:
    """A signed token for `sub` with `roles`, valid for `ttl_seconds`."""
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": sub,
        "roles": sorted(set(roles)),
        "iat": now,
        "exp": now + int(ttl_seconds),
    }
    if audience is not None:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(secret: str, token: str, audience: str | None = None) -> Principal:
    """Verify a token and return its principal; NotAuthorizedException says what is wrong."""
    return read_token_expiry(secret, token, audience)[0]


def read_token_expiry(
    secret: str, token: str, audience: str | None = None
) -> tuple[Principal, float]:
    """Verify a token; return its principal and its expiry (Unix time)."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=audience,
            options={"require": ["sub", "exp", *(["aud"] if audience else [])]},
        )
    except jwt.ExpiredSignatureError:
        raise NotAuthorizedException("the token has expired; mint a new one") from None
    except jwt.InvalidTokenError as error:
        raise NotAuthorizedException(f"the token is not valid: {error}") from None
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise NotAuthorizedException("the token's 'roles' claim must be a list of role names")
    known = {r.value for r in Role}
    principal = Principal(sub=str(claims["sub"]), roles=frozenset(r for r in roles if r in known))
    return principal, float(claims["exp"])


class JWTAuthMiddleware:
    """Checks `Authorization: Bearer <JWT>` and the route's roles on every non-public route.

    Written against plain ASGI rather than Litestar's authentication base class, which builds
    a connection object and parses every header for each request; on a cached read that was a
    fifth of the request's time. Errors raised here reach the usual problem-details handlers.
    """

    def __init__(self, app: ASGIApp, secret: str, exclude: list[str], scopes: Scopes) -> None:
        self.app = app
        self.secret = secret
        self.public = re.compile("|".join(exclude)) if exclude else None
        self.scopes = frozenset(scopes)
        # Verifying a signature costs more than the rest of a cheap request; a token string
        # verified once is remembered until it expires (a changed token is a different key).
        self._verified: dict[str, tuple[Principal, float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in self.scopes and not (
            self.public is not None and self.public.search(scope["path"])
        ):
            token = _bearer(scope["headers"])
            principal = self.authenticate(token)
            authorize(principal, scope["route_handler"].opt)
            scope["user"], scope["auth"] = principal, token
        await self.app(scope, receive, send)

    def authenticate(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None and time.time() < known[1]:
            return known[0]
        principal, expires = read_token_expiry(self.secret, token)
        if len(self._verified) >= VERIFIED_TOKENS:  # many tokens: start over, never grow unbounded
            self._verified.clear()
        self._verified[token] = (principal, expires)
        return principal


def _bearer(headers: Iterable[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"authorization":  # ASGI servers send header names in lower case
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            break
    raise NotAuthorizedException("send 'Authorization: Bearer <token>' (see `tradai token`)")


def requires(*roles: Role, admin: bool = True) -> dict[str, Any]:
    """Route options (`opt=`) admitting principals holding any of `roles` (and admin, unless
    `admin` is False: a worker's reports come from workers only).

    The middleware checks them right after the token. Litestar guards would do the same, but
    Litestar copies the route handler for every guard call, which cost more than the rest of a
    cached read; here it is one set lookup.
    """
    return {ROLES: roles, ADMIN_PASSES: admin}


def authorize(principal: Principal, route_opt: Mapping[str, Any]) -> None:
    """Raise 403 unless the principal holds a role the route admits; a route naming no roles
    admits nobody (fail closed)."""
    roles: tuple[Role, ...] | None = route_opt.get(ROLES)
    if roles is None:
        raise PermissionDeniedException("this route names no role that may call it")
    if route_opt.get(ADMIN_PASSES, True):
        if principal.has_any(roles):
            return
        wanted = " or ".join(r.value for r in dict.fromkeys((*roles, Role.ADMIN)))
    else:
        if any(role in principal.roles for role in roles):
            return
        wanted = " or ".join(r.value for r in roles)
    raise PermissionDeniedException(f"this needs the role {wanted}")


# Reading is open to every role of a person; each write names the role that may do it.
READ = requires(Role.VIEWER, Role.RESEARCHER, Role.APPROVER, Role.OPERATOR)
RESEARCH = requires(Role.RESEARCHER)
APPROVE = requires(Role.APPROVER)
OPERATE = requires(Role.OPERATOR)
WORK = requires(Role.WORKER, admin=False)
