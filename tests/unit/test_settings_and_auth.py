"""Settings from the environment and the JWT rules of API.md."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException

from app.auth import (
    READ,
    RESEARCH,
    VERIFIED_TOKENS,
    JWTAuthMiddleware,
    Principal,
    Role,
    authorize,
    mint_token,
    read_token,
)
from app.params import BadParameter, job_key
from app.secrets import jwt_secret
from app.settings import SettingsError, load_settings

K = "test-secret-of-at-least-32-bytes!"
DAY = 86_400
OTHER = "another-secret-of-at-least-32-bytes"


def test_defaults_need_no_environment() -> None:
    settings = load_settings({})
    assert settings.port == 8000 and settings.host == "0.0.0.0"
    assert settings.resolved_event_store_url.startswith("sqlite:///")


def test_values_are_converted_and_checked() -> None:
    assert load_settings({"BACKEND_PORT": "9001"}).port == 9001
    with pytest.raises(SettingsError, match="port"):
        load_settings({"BACKEND_PORT": "lots"})
    with pytest.raises(SettingsError, match="BACKEND_PROT is not a setting"):
        load_settings({"BACKEND_PROT": "1"})


def test_a_generated_secret_is_kept_per_data_dir(tmp_path: object) -> None:
    settings = load_settings({"BACKEND_DATA_DIR": str(tmp_path)})
    first = jwt_secret(settings)
    assert len(first) == 64 and jwt_secret(settings) == first
    assert jwt_secret(load_settings({"BACKEND_JWT_SECRET": K})) == K


@pytest.mark.parametrize("secret", ["s3cret", "x" * 31, "é" * 15])
def test_a_short_secret_refuses_the_start(secret: str) -> None:
    with pytest.raises(SettingsError, match=r"BACKEND_JWT_SECRET is \d+ bytes; use at least 32"):
        load_settings({"BACKEND_JWT_SECRET": secret})
    assert load_settings({"BACKEND_JWT_SECRET": "é" * 16}).jwt_secret  # 32 bytes in UTF-8


def test_token_lifetimes_must_fit_the_maximum() -> None:
    assert load_settings({}).jwt_max_ttl_seconds == DAY
    for name in ("BACKEND_JWT_TTL_SECONDS", "BACKEND_WS_TOKEN_TTL_SECONDS"):
        with pytest.raises(SettingsError, match=f"{name} is longer than"):
            load_settings({name: "7200", "BACKEND_JWT_MAX_TTL_SECONDS": "3600"})


def test_token_round_trip() -> None:
    principal = read_token(K, mint_token(K, "alice", ["researcher", "viewer"], 60))
    assert principal == Principal("alice", frozenset({"researcher", "viewer"}))
    assert principal.has_any([Role.RESEARCHER]) and not principal.has_any([Role.APPROVER])


def test_admin_passes_every_role() -> None:
    assert Principal("root", frozenset({"admin"})).has_any([Role.OPERATOR])


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (
            jwt.encode(
                {"sub": "a", "iat": int(time.time()) - 60, "exp": int(time.time()) - 5},
                K,
                algorithm="HS256",
            ),
            "expired",
        ),
        (
            jwt.encode({"sub": "a", "exp": int(time.time()) + DAY}, OTHER, algorithm="HS256"),
            "not valid",
        ),
        (jwt.encode({"exp": int(time.time()) + DAY}, K, algorithm="HS256"), "not valid"),
        (jwt.encode({"sub": "a"}, K, algorithm="HS256"), "not valid"),
        (
            jwt.encode(
                {"sub": "a", "iat": int(time.time()), "exp": int(time.time()) + 3600, "roles": "a"},
                K,
                algorithm="HS256",
            ),
            "list",
        ),
        ("not-a-jwt", "not valid"),
    ],
)
def test_bad_tokens_are_refused_with_a_reason(token: str, message: str) -> None:
    with pytest.raises(NotAuthorizedException, match=message):
        read_token(K, token)


@pytest.mark.parametrize(
    ("lifetime", "message"),
    [
        ({"iat": 0, "exp": DAY + 1}, "valid for 86401 s, longer than the 86400 s"),
        ({"iat": None, "exp": 600}, '"iat"'),  # no iat: its lifetime cannot be told
        ({"iat": 3600, "exp": 3600 + DAY}, "not yet valid"),  # an iat in the future
        ({"iat": -10 * DAY, "exp": 60}, "longer than the 86400 s"),
    ],
)
def test_a_token_living_longer_than_the_maximum_is_refused(
    lifetime: dict[str, int | None], message: str
) -> None:
    now = int(time.time())
    claims = {k: now + v for k, v in lifetime.items() if v is not None}
    token = jwt.encode({"sub": "a", "roles": ["admin"]} | claims, K, algorithm="HS256")
    with pytest.raises(NotAuthorizedException, match=message):
        read_token(K, token)
    with pytest.raises(NotAuthorizedException, match=message):
        asyncio.run(_middleware().authenticate(token))


def test_the_maximum_lifetime_is_a_setting_of_the_middleware() -> None:
    token = mint_token(K, "a", ["viewer"], 7200)
    assert read_token(K, token) == Principal("a", frozenset({"viewer"}))
    with pytest.raises(NotAuthorizedException, match="longer than the 3600 s"):
        asyncio.run(_middleware(max_ttl=3600).authenticate(token))


def test_unsigned_tokens_are_refused() -> None:
    token = jwt.encode(
        {"sub": "a", "exp": int(time.time()) + DAY, "roles": ["admin"]}, "", algorithm="none"
    )
    with pytest.raises(NotAuthorizedException):
        read_token(K, token)


def _middleware(max_ttl: float = DAY) -> JWTAuthMiddleware:
    async def app(scope: object, receive: object, send: object) -> None:
        return None

    return JWTAuthMiddleware(
        app,  # type: ignore[arg-type]
        secret=K,
        exclude=["^/health$"],
        scopes={"http"},
        max_ttl=max_ttl,
    )


def test_a_verified_token_is_remembered_until_it_expires() -> None:
    middleware = _middleware()
    token = mint_token(K, "alice", ["viewer"], 60)
    principal = asyncio.run(middleware.authenticate(token))
    assert principal == Principal("alice", frozenset({"viewer"}))
    middleware.secret = OTHER  # a signature check now would fail ...
    remembered = asyncio.run(middleware.authenticate(token))
    assert remembered == principal  # ... so this answer was remembered
    middleware._verified[token] = (principal, time.time() - 1)  # as if its exp had passed
    with pytest.raises(NotAuthorizedException):  # past the expiry it is checked again
        asyncio.run(middleware.authenticate(token))


def test_the_remembered_tokens_never_outgrow_their_bound() -> None:
    middleware = _middleware()
    for n in range(VERIFIED_TOKENS + 5):
        middleware._verified[f"t{n}"] = (Principal("x", frozenset()), time.time() + 60)
    asyncio.run(middleware.authenticate(mint_token(K, "alice", ["viewer"], 60)))
    assert len(middleware._verified) <= VERIFIED_TOKENS


def test_routes_admit_only_their_roles_and_a_route_naming_none_admits_nobody() -> None:
    viewer = Principal("v", frozenset({"viewer"}))
    authorize(viewer, READ)
    with pytest.raises(PermissionDeniedException, match="researcher or admin"):
        authorize(viewer, RESEARCH)
    authorize(Principal("root", frozenset({"admin"})), RESEARCH)
    with pytest.raises(PermissionDeniedException, match="names no role"):
        authorize(Principal("root", frozenset({"admin"})), {})


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("0d8f7f5c-4b0e-4d7b-9a53-2f6a1c3e8b14", "0d8f7f5c-4b0e-4d7b-9a53-2f6a1c3e8b14"),
        ("0D8F7F5C-4B0E-4D7B-9A53-2F6A1C3E8B14", "0d8f7f5c-4b0e-4d7b-9a53-2f6a1c3e8b14"),
        ("0d8f7f5c4b0e4d7b9a532f6a1c3e8b14", "0d8f7f5c-4b0e-4d7b-9a53-2f6a1c3e8b14"),
    ],
)
def test_job_ids_are_read_in_any_uuid_form(raw: str, key: str) -> None:
    assert job_key(raw) == key


def test_a_job_id_that_is_no_uuid_is_a_bad_parameter() -> None:
    with pytest.raises(BadParameter, match="job_id"):
        job_key("0d8f7f5c-4b0e-4d7b-9a53-2f6a1c3e8b1z")
