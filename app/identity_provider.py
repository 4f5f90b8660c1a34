"""Tokens of an identity provider (Cognito, Keycloak, Auth0, ...): RS256 or ES256 JWTs checked
with the provider's public keys, which are fetched from its JWKS URL and kept in memory.

The keys are fetched when a token names a key (`kid`) not in hand, or when the keys in hand are
older than KEYS_MAX_AGE_SECONDS (so a key the provider dropped stops working), and never more
than once per REFETCH_INTERVAL_SECONDS whatever tokens arrive: a flood of tokens naming made-up
keys costs the provider one request per interval. The fetch runs in a worker thread (httpx,
short timeout) so the event loop never waits on the network; requests that need the keys while
a fetch runs wait for that fetch instead of starting their own. When a fetch fails, the keys in
hand stay in use and tokens needing others get a 401 that says the keys could not be fetched.
PyJWT reads the key set (jwt.PyJWKSet) and checks the signature and the claims.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import anyio
import anyio.to_thread
import httpx
import jwt
from litestar.exceptions import NotAuthorizedException

from app.auth import (
    DEFAULT_MAX_TTL_SECONDS,
    PROVIDER_ALGORITHMS,
    Principal,
    check_lifetime,
    principal_of,
)
from app.settings import Settings

REFETCH_INTERVAL_SECONDS = 30.0  # at most one request for the keys per this many seconds
KEYS_MAX_AGE_SECONDS = 3600.0  # keys in hand longer than this are fetched again when next used
FETCH_TIMEOUT_SECONDS = 3.0  # each of connect, read, write
CLOCK_SKEW_SECONDS = 5.0  # leeway for exp, nbf and iat: the provider's clock is not ours

log = logging.getLogger(__name__)


class KeysUnavailable(Exception):
    """The JWKS URL did not give a usable key set."""


class IdentityProvider:
    """Verifies the provider's tokens: signature by a key of its JWKS, `exp`, `iat`, `sub`, the
    issuer, the audience (required: without it a token the provider issued to any other client
    would pass) and a lifetime of at most `max_ttl`; roles from `roles_claim`."""

    def __init__(
        self,
        jwks_url: str,
        issuer: str,
        audience: str,
        roles_claim: str = "roles",
        *,
        max_ttl: float = DEFAULT_MAX_TTL_SECONDS,
        refetch_interval: float = REFETCH_INTERVAL_SECONDS,
        max_age: float = KEYS_MAX_AGE_SECONDS,
        timeout: float = FETCH_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not audience:
            raise ValueError("an identity provider needs the audience its tokens must carry")
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.max_ttl = max_ttl
        self.audience = audience
        self.roles_claim = roles_claim
        self.refetch_interval = refetch_interval
        self.max_age = max_age
        self.timeout = timeout
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._asked_at = -math.inf  # the last fetch's start, whatever came of it
        self._loaded_at = -math.inf  # when the keys in hand were fetched
        self._error = ""  # why the last fetch failed; empty after one that worked
        self._lock = anyio.Lock()

    async def verify(self, token: str, header: Mapping[str, Any]) -> tuple[Principal, float]:
        """The token's principal and expiry (Unix time); NotAuthorizedException says what is
        wrong. `header` is the token's unverified header, which names the key."""
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise NotAuthorizedException("the token names no signing key (no 'kid' in its header)")
        key = await self._key(kid)
        try:
            claims = jwt.decode(
                token,
                key,  # a PyJWK: PyJWT also checks that the header's alg is the key's own
                algorithms=list(PROVIDER_ALGORITHMS),
                issuer=self.issuer,
                leeway=CLOCK_SKEW_SECONDS,
                # The audience is checked below: Cognito's access tokens name it `client_id`.
                options={"require": ["sub", "exp", "iss"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise NotAuthorizedException("the token has expired; sign in again") from None
        except jwt.InvalidTokenError as error:
            raise NotAuthorizedException(f"the token is not valid: {error}") from None
        self._check_audience(claims)
        check_lifetime(claims, self.max_ttl, CLOCK_SKEW_SECONDS)
        roles = claim(claims, self.roles_claim)
        principal = principal_of(claims["sub"], [] if roles is None else roles, self.roles_claim)
        return principal, float(claims["exp"])

    def _check_audience(self, claims: Mapping[str, Any]) -> None:
        """The token's `aud` (a string or a list) names our audience; a token without `aud`
        passes only when its `client_id` is our audience (Cognito's access tokens)."""
        audience = claims.get("aud")
        if audience is None:
            if claims.get("client_id") == self.audience:
                return
            raise NotAuthorizedException(
                'the token is not valid: Token is missing the "aud" claim (and its client_id '
                "is not this service's audience)"
            )
        named = [audience] if isinstance(audience, str) else audience
        if not isinstance(named, list) or self.audience not in named:
            raise NotAuthorizedException(
                "the token is not valid: Audience doesn't match (it was issued to another "
                "client than BACKEND_JWT_AUDIENCE)"
            )

    async def _key(self, kid: str) -> jwt.PyJWK:
        key = self._keys.get(kid)
        if key is not None and self._clock() - self._loaded_at < self.max_age:
            return key
        async with self._lock:  # one fetch at a time; who waited sees its outcome
            now = self._clock()
            key = self._keys.get(kid)
            if key is not None and now - self._loaded_at < self.max_age:
                return key
            if now - self._asked_at >= self.refetch_interval:
                self._asked_at = now
                await self._refresh()
                key = self._keys.get(kid)
            if key is not None:  # possibly old, if the fetch failed: better than none
                return key
        if self._error:
            raise NotAuthorizedException(
                f"the identity provider's keys could not be fetched from {self.jwks_url} "
                f"({self._error}); try again later"
            )
        raise NotAuthorizedException(
            f"the token's signing key {kid!r} is not one of the identity provider's keys"
        )

    async def _refresh(self) -> None:
        with anyio.CancelScope(shield=True):  # a client that hangs up does not waste the fetch
            try:
                keys = await anyio.to_thread.run_sync(self._fetch)
            except KeysUnavailable as error:
                self._error = str(error)
                log.warning("identity provider keys from %s: %s", self.jwks_url, error)
                return
        self._keys, self._loaded_at, self._error = keys, self._clock(), ""
        log.info("identity provider keys from %s: %s", self.jwks_url, ", ".join(sorted(keys)))

    def _fetch(self) -> dict[str, jwt.PyJWK]:
        """The provider's RS256/ES256 signing keys by kid (runs in a worker thread)."""
        try:
            response = httpx.get(self.jwks_url, timeout=self.timeout)
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            raise KeysUnavailable(f"{type(error).__name__}: {error}") from None
        if response.status_code != 200:
            raise KeysUnavailable(f"HTTP {response.status_code}")
        try:
            document = response.json()
            key_set = jwt.PyJWKSet.from_dict(document if isinstance(document, dict) else {})
        except (ValueError, jwt.PyJWTError) as error:
            raise KeysUnavailable(f"not a JWK set: {error}") from None
        keys = {
            key.key_id: key
            for key in key_set.keys
            if key.key_id
            and key.algorithm_name in PROVIDER_ALGORITHMS
            and key.public_key_use in (None, "sig")
        }
        if not keys:
            raise KeysUnavailable(f"no {' or '.join(PROVIDER_ALGORITHMS)} signing key with a kid")
        return keys


def claim(claims: Mapping[str, Any], name: str) -> object:
    """The claim `name`; for a dotted name no claim has (Keycloak's `realm_access.roles`),
    the value at that path; None when there is none."""
    if name in claims:
        return claims[name]
    value: object = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def identity_provider(settings: Settings) -> IdentityProvider | None:
    """The provider BACKEND_JWT_JWKS_URL names, or None when only local tokens are accepted."""
    if not settings.jwt_jwks_url:
        return None
    return IdentityProvider(
        settings.jwt_jwks_url,
        settings.jwt_issuer,
        settings.jwt_audience,
        settings.jwt_roles_claim,
        max_ttl=settings.jwt_max_ttl_seconds,
    )
