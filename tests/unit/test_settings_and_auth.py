"""Settings from the environment and the JWT rules of API.md."""

from __future__ import annotations

import time

import jwt
import pytest
from litestar.exceptions import NotAuthorizedException

from app.auth import Principal, Role, mint_token, read_token
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
    assert jwt_secret(load_settings({"BACKEND_JWT_SECRET": "s3cret"})) == "s3cret"


def test_token_round_trip() -> None:
    principal = read_token(K, mint_token(K, "alice", ["researcher", "viewer"], 60))
    assert principal == Principal("alice", frozenset({"researcher", "viewer"}))
    assert principal.has_any([Role.RESEARCHER]) and not principal.has_any([Role.APPROVER])


def test_admin_passes_every_role() -> None:
    assert Principal("root", frozenset({"admin"})).has_any([Role.OPERATOR])


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (jwt.encode({"sub": "a", "exp": int(time.time()) - 5}, K, algorithm="HS256"), "expired"),
        (
            jwt.encode({"sub": "a", "exp": int(time.time()) + DAY}, OTHER, algorithm="HS256"),
            "not valid",
        ),
        (jwt.encode({"exp": int(time.time()) + DAY}, K, algorithm="HS256"), "not valid"),
        (jwt.encode({"sub": "a"}, K, algorithm="HS256"), "not valid"),
        (
            jwt.encode(
                {"sub": "a", "exp": int(time.time()) + DAY, "roles": "admin"}, K, algorithm="HS256"
            ),
            "list",
        ),
        ("not-a-jwt", "not valid"),
    ],
)
def test_bad_tokens_are_refused_with_a_reason(token: str, message: str) -> None:
    with pytest.raises(NotAuthorizedException, match=message):
        read_token(K, token)


def test_unsigned_tokens_are_refused() -> None:
    token = jwt.encode(
        {"sub": "a", "exp": int(time.time()) + DAY, "roles": ["admin"]}, None, algorithm="none"
    )
    with pytest.raises(NotAuthorizedException):
        read_token(K, token)
