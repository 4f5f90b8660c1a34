"""Bearer-JWT authentication (HS256, PyJWT) and role guards, as API.md describes them."""

from __future__ import annotations

import time
from collections.abc import Iterable
from enum import StrEnum

import jwt
import msgspec
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp, Guard, Scopes

ALGORITHM = "HS256"
# WebSocket tokens carry this audience, so they open streams and nothing else, and API tokens
# (which have no audience) cannot be put into WebSocket URLs, where they would end up in logs.
WS_AUDIENCE = "tradai-ws"


class Role(StrEnum):
    VIEWER = "viewer"
    RESEARCHER = "researcher"
    APPROVER = "approver"
    OPERATOR = "operator"
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
    return Principal(sub=str(claims["sub"]), roles=frozenset(r for r in roles if r in known))


class JWTAuthMiddleware(AbstractAuthenticationMiddleware):
    """Checks `Authorization: Bearer <JWT>` on every route except the public ones."""

    def __init__(self, app: ASGIApp, secret: str, exclude: list[str], scopes: Scopes) -> None:
        super().__init__(app, exclude=exclude, scopes=scopes)
        self.secret = secret

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:  # type: ignore[type-arg]
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthorizedException(
                "send 'Authorization: Bearer <token>' (see `tradai token`)"
            )
        principal = read_token(self.secret, token.strip())
        return AuthenticationResult(user=principal, auth=token)


def requires(*roles: Role) -> Guard:
    """A guard admitting principals holding any of `roles` (admin always passes)."""

    def guard(connection: ASGIConnection, _: BaseRouteHandler) -> None:  # type: ignore[type-arg]
        principal = connection.user
        if not isinstance(principal, Principal):
            raise NotAuthorizedException("authentication required")
        if not principal.has_any(roles):
            wanted = " or ".join(r.value for r in (*roles, Role.ADMIN))
            raise PermissionDeniedException(f"this needs the role {wanted}")

    return guard


# Reading is open to every role; each write names the role that may do it.
READ = requires(*Role)
RESEARCH = requires(Role.RESEARCHER)
APPROVE = requires(Role.APPROVER)
OPERATE = requires(Role.OPERATOR)
