"""Bearer-JWT authentication and role checks, as API.md describes them: local HS256 tokens
(PyJWT, the data dir's secret) and, when configured, RS256/ES256 tokens of an identity provider
(app/identity_provider.py)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import jwt
import msgspec
import structlog
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.types import ASGIApp, Receive, Scope, Scopes, Send

if TYPE_CHECKING:
    from app.identity_provider import IdentityProvider

ALGORITHM = "HS256"
PROVIDER_ALGORITHMS = ("RS256", "ES256")  # tokens of the identity provider, never of the secret
ROLES = "roles"  # the key of a route's `opt` that names the roles admitted
ADMIN_PASSES = "admin_passes"  # the key of a route's `opt` that says whether admin is admitted
# WebSocket tokens carry this audience, so they open streams and nothing else, and API tokens
# (which have no audience) cannot be put into WebSocket URLs, where they would end up in logs.
WS_AUDIENCE = "tradai-ws"
VERIFIED_TOKENS = 10_000  # distinct live tokens remembered after their first verification
DEFAULT_MAX_TTL_SECONDS = 86_400  # BACKEND_JWT_MAX_TTL_SECONDS' default: one day


class Role(StrEnum):
    VIEWER = "viewer"
    RESEARCHER = "researcher"
    APPROVER = "approver"
    OPERATOR = "operator"
    WORKER = "worker"  # remote backtest workers: claim jobs and report on them, nothing else
    ADMIN = "admin"


KNOWN_ROLES = frozenset(r.value for r in Role)


class Principal(msgspec.Struct, frozen=True):
    """Who is calling: the token's subject and roles."""

    sub: str
    roles: frozenset[str]

    def has_any(self, roles: Iterable[Role]) -> bool:
        return Role.ADMIN in self.roles or any(role in self.roles for role in roles)


def is_admin(principal: Principal) -> bool:
    """Admins may act on what other users own (strategies, jobs, sweeps)."""
    return Role.ADMIN in principal.roles


def mint_token(
    secret: str, sub: str, roles: Iterable[str], ttl_seconds: float, audience: str | None = None
) -> str:
    """A signed token for `sub` with `roles`, valid for `ttl_seconds`. Its `jti` names it, so
    a WebSocket token can be used once."""
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": sub,
        "roles": sorted(set(roles)),
        "iat": now,
        "exp": now + int(ttl_seconds),
        "jti": uuid.uuid4().hex,
    }
    if audience is not None:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(
    secret: str,
    token: str,
    audience: str | None = None,
    max_ttl: float = DEFAULT_MAX_TTL_SECONDS,
) -> Principal:
    """Verify a token and return its principal; NotAuthorizedException says what is wrong."""
    return read_token_expiry(secret, token, audience, max_ttl)[0]


def read_token_expiry(
    secret: str,
    token: str,
    audience: str | None = None,
    max_ttl: float = DEFAULT_MAX_TTL_SECONDS,
) -> tuple[Principal, float]:
    """Verify a token; return its principal and its expiry (Unix time)."""
    claims = read_claims(secret, token, audience, max_ttl)
    return principal_of(claims["sub"], claims.get("roles", [])), float(claims["exp"])


def read_claims(
    secret: str,
    token: str,
    audience: str | None = None,
    max_ttl: float = DEFAULT_MAX_TTL_SECONDS,
    require: Iterable[str] = (),
) -> dict[str, Any]:
    """A local token's verified claims: signature, `exp`, `iat`, `sub`, the audience when one is
    given, the claims in `require`, and a lifetime of at most `max_ttl`."""
    # `iat` is checked with the lifetime, after `exp`: an expired token says it expired.
    needed = ["sub", "exp", *(["aud"] if audience else []), *require]
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=[ALGORITHM], audience=audience, options={"require": needed}
        )
    except jwt.ExpiredSignatureError:
        raise NotAuthorizedException("the token has expired; mint a new one") from None
    except jwt.InvalidTokenError as error:
        raise NotAuthorizedException(f"the token is not valid: {error}") from None
    check_lifetime(claims, max_ttl)
    return claims


def check_lifetime(claims: Mapping[str, Any], max_ttl: float, leeway: float = 0.0) -> None:
    """401 unless the token lives at most `max_ttl` seconds: from `iat` to `exp`, and from now
    to `exp` (so an `iat` set in the future does not stretch it). A stolen token is good for a
    bounded time, whoever minted it."""
    issued, expires = claims.get("iat"), claims.get("exp")
    if not isinstance(issued, int | float) or not isinstance(expires, int | float):
        raise NotAuthorizedException(
            'the token has no numeric "iat" claim (when it was issued): tokens without one '
            "are refused, as their lifetime cannot be checked"
        )
    lifetime = max(expires - issued, expires - time.time() - leeway)
    if lifetime > max_ttl:
        raise NotAuthorizedException(
            f"the token is valid for {lifetime:.0f} s, longer than the {max_ttl:g} s this "
            "service accepts (BACKEND_JWT_MAX_TTL_SECONDS); get a shorter-lived one"
        )


def principal_of(sub: object, roles: object, claim: str = "roles") -> Principal:
    """The principal of a verified token; role names this service does not know are dropped."""
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise NotAuthorizedException(f"the token's {claim!r} claim must be a list of role names")
    return Principal(sub=str(sub), roles=frozenset(r for r in roles if r in KNOWN_ROLES))


def token_algorithm(token: str) -> tuple[str, dict[str, Any]]:
    """The `alg` of a token's (unverified) header, and the header; 401 if there is none."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as error:
        raise NotAuthorizedException(f"the token is not valid: {error}") from None
    algorithm = header.get("alg")
    return (algorithm if isinstance(algorithm, str) else ""), header


class JWTAuthMiddleware:
    """Checks `Authorization: Bearer <JWT>` and the route's roles on every non-public route.

    The token header's `alg` picks the key: HS256 is checked with the local secret only;
    RS256 and ES256 with the identity provider's keys only, when one is configured; any other
    (`none` included) is refused. So a public key never reaches an HMAC check.

    Written against plain ASGI rather than Litestar's authentication base class, which builds
    a connection object and parses every header for each request; on a cached read that was a
    fifth of the request's time. Errors raised here reach the usual problem-details handlers.
    """

    def __init__(
        self,
        app: ASGIApp,
        secret: str,
        exclude: list[str],
        scopes: Scopes,
        identity_provider: IdentityProvider | None = None,
        max_ttl: float = DEFAULT_MAX_TTL_SECONDS,
    ) -> None:
        self.app = app
        self.secret = secret
        self.max_ttl = max_ttl
        self.identity_provider = identity_provider
        self.public = re.compile("|".join(exclude)) if exclude else None
        self.scopes = frozenset(scopes)
        # Verifying a signature costs more than the rest of a cheap request; a token string
        # verified once is remembered until it expires (a changed token is a different key),
        # whichever key verified it.
        self._verified: dict[str, tuple[Principal, float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in self.scopes and not (
            self.public is not None and self.public.search(scope["path"])
        ):
            token = _bearer(scope["headers"])
            known = self._verified.get(token)  # the usual case, without a coroutine
            if known is not None and time.time() < known[1]:
                principal = known[0]
            else:
                principal = await self.authenticate(token)
            _bind_log_context(scope, principal)
            authorize(principal, scope["route_handler"].opt)
            scope["user"], scope["auth"] = principal, token
        await self.app(scope, receive, send)

    async def authenticate(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None and time.time() < known[1]:
            return known[0]
        algorithm, header = token_algorithm(token)
        if algorithm == ALGORITHM:
            principal, expires = read_token_expiry(self.secret, token, max_ttl=self.max_ttl)
        elif algorithm in PROVIDER_ALGORITHMS and self.identity_provider is not None:
            principal, expires = await self.identity_provider.verify(token, header)
        elif algorithm in PROVIDER_ALGORITHMS:
            raise NotAuthorizedException(
                f"{algorithm} tokens are not accepted here (no BACKEND_JWT_JWKS_URL is "
                "configured); use a token from `tradai token`"
            )
        else:
            accepted = ", ".join(
                [ALGORITHM, *(PROVIDER_ALGORITHMS if self.identity_provider else ())]
            )
            raise NotAuthorizedException(
                f"the token's algorithm {algorithm or 'none'!r} is not accepted (only {accepted})"
            )
        if len(self._verified) >= VERIFIED_TOKENS:  # many tokens: start over, never grow unbounded
            self._verified.clear()
        self._verified[token] = (principal, expires)
        return principal


def _bind_log_context(scope: Scope, principal: Principal) -> None:
    """Every later log line of the request says who asked (and about which job)."""
    job = (scope.get("path_params") or {}).get("job_id")
    if job is None:
        structlog.contextvars.bind_contextvars(user=principal.sub)
    else:
        structlog.contextvars.bind_contextvars(user=principal.sub, job_id=str(job))


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
