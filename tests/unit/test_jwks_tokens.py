"""Identity-provider tokens (RS256, ES256) checked against a JWKS the test serves over real
HTTP on loopback, next to the local HS256 tokens."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException

from app.auth import JWTAuthMiddleware, Principal, mint_token, token_algorithm
from app.identity_provider import (
    KEYS_MAX_AGE_SECONDS,
    REFETCH_INTERVAL_SECONDS,
    IdentityProvider,
    identity_provider,
)
from app.settings import SettingsError, load_settings
from tests.support.jwks import (
    AUDIENCE,
    ISSUER,
    JwksServer,
    SigningKey,
    hmac_token,
    jwks_server,
    unsigned_token,
)
from tests.support.ports import free_port

SECRET = "test-secret-of-at-least-32-bytes!"
RSA = SigningKey.rsa("rsa-1")
EC = SigningKey.ec("ec-1")
STRANGER = SigningKey.rsa("rsa-1")  # the same kid as RSA, another key: not the provider's
RESEARCHER = Principal("carol", frozenset({"researcher"}))


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def jwks() -> Iterator[JwksServer]:
    with jwks_server() as server:
        server.publish(RSA, EC)
        yield server


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def provider(jwks: JwksServer, clock: Clock) -> IdentityProvider:
    return IdentityProvider(jwks.url, ISSUER, AUDIENCE, clock=clock)


def verify(provider: IdentityProvider, token: str) -> Principal:
    return asyncio.run(provider.verify(token, token_algorithm(token)[1]))[0]


def middleware(provider: IdentityProvider | None) -> JWTAuthMiddleware:
    async def app(scope: object, receive: object, send: object) -> None:
        return None

    return JWTAuthMiddleware(
        app,  # type: ignore[arg-type]
        secret=SECRET,
        exclude=[],
        scopes={ScopeType.HTTP},
        identity_provider=provider,
    )


def authenticate(auth: JWTAuthMiddleware, token: str) -> Principal:
    return asyncio.run(auth.authenticate(token))


def refused(auth: JWTAuthMiddleware, token: str, message: str) -> None:
    with pytest.raises(NotAuthorizedException, match=message):
        authenticate(auth, token)


@pytest.mark.parametrize("key", [RSA, EC], ids=["RS256", "ES256"])
def test_a_valid_provider_token_passes_with_its_known_roles(
    provider: IdentityProvider, jwks: JwksServer, key: SigningKey
) -> None:
    token = key.token(roles=["researcher", "cognito-admins"])  # the unknown name is dropped
    assert authenticate(middleware(provider), token) == RESEARCHER
    assert jwks.requests == 1


@pytest.mark.parametrize(
    ("make_token", "message"),
    [
        (lambda: RSA.token(ttl=-60), "expired"),
        (lambda: EC.token(ttl=-60), "expired"),
        (lambda: RSA.token(iss="https://evil.test/"), "issuer"),
        (lambda: RSA.token(iss=None), '"iss"'),
        (lambda: RSA.token(aud="another-app"), "[Aa]udience"),
        (lambda: RSA.token(aud=None), '"aud"'),
        (lambda: RSA.token(sub=None), '"sub"'),
        (lambda: RSA.token(exp=None), '"exp"'),
        (lambda: RSA.token(roles="admin"), "'roles' claim must be a list"),
        (STRANGER.token, "[Ss]ignature"),  # a known kid, another key
        (lambda: EC.token(kid=RSA.kid), "alg"),  # ES256 naming the RSA key
        (lambda: RSA.token(kid=""), "no signing key"),
    ],
    ids=[
        "expired-rs256",
        "expired-es256",
        "wrong-issuer",
        "no-issuer",
        "wrong-audience",
        "no-audience",
        "no-sub",
        "no-exp",
        "roles-not-a-list",
        "forged-signature",
        "key-of-another-type",
        "no-kid",
    ],
)
def test_bad_provider_tokens_are_401_with_a_reason(
    provider: IdentityProvider, jwks: JwksServer, make_token: Callable[[], str], message: str
) -> None:
    refused(middleware(provider), make_token(), message)
    assert jwks.requests <= 1


def test_alg_none_is_refused_without_asking_the_provider(
    provider: IdentityProvider, jwks: JwksServer
) -> None:
    refused(middleware(provider), unsigned_token(RSA.kid), "'none' is not accepted")
    refused(middleware(None), unsigned_token(RSA.kid), "'none' is not accepted")
    assert jwks.requests == 0


@pytest.mark.parametrize(
    "secret",
    [RSA.public_pem(), json.dumps(RSA.jwk()).encode(), EC.public_pem()],
    ids=["rsa-pem", "rsa-jwk", "ec-pem"],
)
def test_hs256_signed_with_a_public_key_is_refused(
    provider: IdentityProvider, jwks: JwksServer, secret: bytes
) -> None:
    """Algorithm confusion: HS256 is checked with the local secret only, never a public key."""
    token = hmac_token(secret, RSA.kid)
    refused(middleware(provider), token, "[Ss]ignature verification failed")
    assert jwks.requests == 0
    with pytest.raises(NotAuthorizedException, match="alg"):  # and the provider refuses it too
        verify(provider, token)


def test_local_tokens_keep_working_next_to_provider_tokens(provider: IdentityProvider) -> None:
    auth = middleware(provider)
    assert authenticate(auth, mint_token(SECRET, "dave", ["operator"], 60)) == Principal(
        "dave", frozenset({"operator"})
    )
    assert authenticate(auth, RSA.token()) == RESEARCHER
    refused(
        auth, mint_token("another-secret-of-at-least-32-bytes", "x", ["admin"], 60), "not valid"
    )


def test_provider_tokens_are_refused_when_no_provider_is_configured() -> None:
    refused(middleware(None), RSA.token(), "RS256 tokens are not accepted here")
    refused(middleware(None), EC.token(), "ES256 tokens are not accepted here")


def test_a_verified_provider_token_is_remembered(provider: IdentityProvider) -> None:
    auth = middleware(provider)
    token = EC.token()
    assert authenticate(auth, token) == RESEARCHER
    auth.identity_provider = None  # a check now would refuse it ...
    assert authenticate(auth, token) == RESEARCHER  # ... so this answer was remembered


def test_an_unknown_kid_refetches_once_then_is_401(
    provider: IdentityProvider, jwks: JwksServer, clock: Clock
) -> None:
    assert verify(provider, RSA.token()) == RESEARCHER
    assert jwks.requests == 1
    clock.advance(REFETCH_INTERVAL_SECONDS)
    stranger = SigningKey.rsa("nobody-knows-me").token()
    with pytest.raises(NotAuthorizedException, match="'nobody-knows-me' is not one of"):
        verify(provider, stranger)
    assert jwks.requests == 2  # fetched again, once
    with pytest.raises(NotAuthorizedException, match="is not one of"):
        verify(provider, stranger)
    assert jwks.requests == 2


def test_a_rotated_in_key_passes_after_one_refetch(
    provider: IdentityProvider, jwks: JwksServer, clock: Clock
) -> None:
    assert verify(provider, RSA.token()) == RESEARCHER
    new = SigningKey.ec("ec-2")
    jwks.publish(RSA, EC, new)  # the provider adds a key and starts signing with it
    clock.advance(REFETCH_INTERVAL_SECONDS)
    assert verify(provider, new.token()) == RESEARCHER
    assert jwks.requests == 2
    assert verify(provider, RSA.token()) == RESEARCHER  # the old keys still count
    assert verify(provider, new.token()) == RESEARCHER
    assert jwks.requests == 2


def test_a_key_the_provider_dropped_stops_working_once_the_keys_are_old(
    provider: IdentityProvider, jwks: JwksServer, clock: Clock
) -> None:
    assert verify(provider, RSA.token()) == RESEARCHER
    jwks.publish(EC)
    clock.advance(KEYS_MAX_AGE_SECONDS - 1)
    assert verify(provider, RSA.token()) == RESEARCHER  # not yet asked again
    clock.advance(1)
    with pytest.raises(NotAuthorizedException, match="is not one of"):
        verify(provider, RSA.token())
    assert jwks.requests == 2


def test_old_keys_stay_in_use_while_the_provider_is_down(
    provider: IdentityProvider, jwks: JwksServer, clock: Clock
) -> None:
    assert verify(provider, RSA.token()) == RESEARCHER
    jwks.status = 503
    clock.advance(KEYS_MAX_AGE_SECONDS)
    assert verify(provider, RSA.token()) == RESEARCHER
    assert jwks.requests == 2


def test_refetching_is_rate_limited(
    provider: IdentityProvider, jwks: JwksServer, clock: Clock
) -> None:
    assert verify(provider, RSA.token()) == RESEARCHER
    stranger = SigningKey.rsa("x")
    flood = [stranger.token(kid=uuid.uuid4().hex) for _ in range(50)]
    for token in flood:
        with pytest.raises(NotAuthorizedException, match="is not one of"):
            verify(provider, token)
    assert jwks.requests == 1  # no refetch within the interval of the first fetch
    clock.advance(REFETCH_INTERVAL_SECONDS)
    for token in flood:
        with pytest.raises(NotAuthorizedException, match="is not one of"):
            verify(provider, token)
    assert jwks.requests == 2  # one refetch for the whole second flood


def test_concurrent_first_tokens_share_one_fetch(
    provider: IdentityProvider, jwks: JwksServer
) -> None:
    tokens = [RSA.token(sub=f"u{n}") if n % 2 else EC.token(sub=f"u{n}") for n in range(20)]

    async def all_at_once() -> list[tuple[Principal, float]]:
        return await asyncio.gather(*(provider.verify(t, token_algorithm(t)[1]) for t in tokens))

    principals = asyncio.run(all_at_once())
    assert [p.sub for p, _ in principals] == [f"u{n}" for n in range(20)]
    assert jwks.requests == 1


@pytest.mark.parametrize("status", [404, 503])
def test_a_provider_answering_an_error_gives_401_saying_so(
    provider: IdentityProvider, jwks: JwksServer, status: int
) -> None:
    jwks.status = status
    refused(middleware(provider), RSA.token(), f"could not be fetched .*HTTP {status}")


def test_a_provider_that_is_not_there_gives_401_saying_so(clock: Clock) -> None:
    url = f"http://127.0.0.1:{free_port()}/jwks.json"
    provider = IdentityProvider(url, ISSUER, AUDIENCE, clock=clock)
    refused(middleware(provider), RSA.token(), f"could not be fetched from {url} .*ConnectError")


def test_a_key_set_without_usable_keys_gives_401_saying_so(
    provider: IdentityProvider, jwks: JwksServer
) -> None:
    jwks.keys = [{"kty": "oct", "kid": RSA.kid, "k": "c2VjcmV0"}]  # a symmetric key: ignored
    refused(middleware(provider), RSA.token(), "could not be fetched .*no RS256 or ES256")


@pytest.mark.parametrize(
    ("claim", "claims", "roles"),
    [
        ("cognito:groups", {"cognito:groups": ["approver", "viewer"]}, {"approver", "viewer"}),
        ("realm_access.roles", {"realm_access": {"roles": ["operator"]}}, {"operator"}),
        ("https://tradai.test/roles", {"https://tradai.test/roles": ["admin"]}, {"admin"}),
        ("cognito:groups", {}, set()),  # a user in no group
    ],
)
def test_roles_come_from_the_configured_claim(
    jwks: JwksServer, clock: Clock, claim: str, claims: dict[str, object], roles: set[str]
) -> None:
    provider = IdentityProvider(jwks.url, ISSUER, AUDIENCE, claim, clock=clock)
    token = RSA.token(roles=["researcher"], extra=claims)  # `roles` is not the claim here
    assert verify(provider, token) == Principal("carol", frozenset(roles))


def test_a_roles_claim_that_is_no_list_is_401(jwks: JwksServer, clock: Clock) -> None:
    provider = IdentityProvider(jwks.url, ISSUER, AUDIENCE, "cognito:groups", clock=clock)
    with pytest.raises(NotAuthorizedException, match="'cognito:groups' claim must be a list"):
        verify(provider, RSA.token(extra={"cognito:groups": "admin"}))


def test_an_audience_is_required(jwks: JwksServer, clock: Clock) -> None:
    with pytest.raises(ValueError, match="audience"):
        IdentityProvider(jwks.url, ISSUER, "", clock=clock)


def test_audience_lists_and_cognito_access_tokens_client_id(provider: IdentityProvider) -> None:
    assert verify(provider, RSA.token(aud=["another-app", AUDIENCE])) == RESEARCHER
    # Cognito's access tokens carry no `aud`, their app client id as `client_id`.
    assert verify(provider, RSA.token(aud=None, client_id=AUDIENCE)) == RESEARCHER
    for token in (RSA.token(aud=None, client_id="another-app"), RSA.token(aud=["x", "y"])):
        with pytest.raises(NotAuthorizedException, match=r"aud|Audience"):
            verify(provider, token)


@pytest.mark.parametrize(
    ("make_token", "message"),
    [
        (lambda: RSA.token(ttl=86_400 + 60), "longer than the 86400 s"),
        (lambda: RSA.token(iat=None), '"iat"'),
        # An old `iat` with a far `exp`: checked from now too.
        (lambda: RSA.token(iat=int(time.time()) - 3600, ttl=86_400), "longer than the 86400 s"),
    ],
    ids=["too-long", "no-iat", "exp-far-from-now"],
)
def test_provider_tokens_living_longer_than_the_maximum_are_401(
    provider: IdentityProvider, make_token: Callable[[], str], message: str
) -> None:
    refused(middleware(provider), make_token(), message)


def test_the_maximum_lifetime_comes_from_the_settings(jwks: JwksServer) -> None:
    settings = load_settings(
        {
            "BACKEND_JWT_JWKS_URL": jwks.url,
            "BACKEND_JWT_ISSUER": ISSUER,
            "BACKEND_JWT_AUDIENCE": AUDIENCE,
            "BACKEND_JWT_MAX_TTL_SECONDS": "600",
            "BACKEND_JWT_TTL_SECONDS": "300",
        }
    )
    provider = identity_provider(settings)
    assert provider is not None and provider.max_ttl == 600
    assert verify(provider, RSA.token(ttl=590)) == RESEARCHER
    with pytest.raises(NotAuthorizedException, match="longer than the 600 s"):
        verify(provider, RSA.token(ttl=900))


def test_identity_provider_settings() -> None:
    assert identity_provider(load_settings({})) is None
    assert load_settings({}).jwt_roles_claim == "roles"
    settings = load_settings(
        {
            "BACKEND_JWT_JWKS_URL": "https://idp.test/jwks.json",
            "BACKEND_JWT_ISSUER": ISSUER,
            "BACKEND_JWT_AUDIENCE": AUDIENCE,
            "BACKEND_JWT_ROLES_CLAIM": "cognito:groups",
        }
    )
    provider = identity_provider(settings)
    assert provider is not None
    assert (provider.jwks_url, provider.issuer, provider.audience, provider.roles_claim) == (
        "https://idp.test/jwks.json",
        ISSUER,
        AUDIENCE,
        "cognito:groups",
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"BACKEND_JWT_JWKS_URL": "https://idp.test/jwks.json"}, "needs BACKEND_JWT_ISSUER"),
        (
            {"BACKEND_JWT_JWKS_URL": "https://idp.test/jwks.json", "BACKEND_JWT_ISSUER": ISSUER},
            "needs BACKEND_JWT_AUDIENCE",
        ),
        ({"BACKEND_JWT_ISSUER": ISSUER}, "set BACKEND_JWT_JWKS_URL too"),
        ({"BACKEND_JWT_AUDIENCE": AUDIENCE}, "set BACKEND_JWT_JWKS_URL too"),
        (
            {
                "BACKEND_JWT_JWKS_URL": "idp.test/jwks.json",
                "BACKEND_JWT_ISSUER": ISSUER,
                "BACKEND_JWT_AUDIENCE": AUDIENCE,
            },
            "must be an https://",
        ),
        ({"BACKEND_JWT_ROLES_CLAIM": ""}, "jwt_roles_claim"),
    ],
)
def test_incomplete_identity_provider_settings_are_an_error(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(environ)
