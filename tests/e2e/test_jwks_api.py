"""Identity-provider tokens through a real `tradai serve`: RS256 and ES256 tokens checked against
a JWKS the test serves on loopback, next to the local HS256 tokens of `tradai token`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

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
from tests.support.server import ServerProcess
from tests.support.strategies import minimal

pytestmark = pytest.mark.e2e

RSA = SigningKey.rsa("rsa-1")
EC = SigningKey.ec("ec-1")
GROUPS = "cognito:groups"  # roles come from the Cognito claim here


def idp_env(jwks_url: str) -> dict[str, str]:
    return {
        "BACKEND_EXECUTOR": "off",
        "BACKEND_JWT_JWKS_URL": jwks_url,
        "BACKEND_JWT_ISSUER": ISSUER,
        "BACKEND_JWT_AUDIENCE": AUDIENCE,
        "BACKEND_JWT_ROLES_CLAIM": GROUPS,
    }


@pytest.fixture(scope="module")
def idp() -> Iterator[JwksServer]:
    with jwks_server() as server:
        server.publish(RSA, EC)
        yield server


@pytest.fixture(scope="module")
def api(idp: JwksServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("jwks"), idp_env(idp.url)) as server:
        yield server


def get(server: ServerProcess, token: str, path: str = "/backtests") -> httpx.Response:
    return httpx.get(
        f"{server.url}/api/v1{path}", headers={"Authorization": f"Bearer {token}"}, timeout=15
    )


def problem(response: httpx.Response, status: int) -> str:
    """The detail of a problem document with `status`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"]
    return str(body["detail"])


@pytest.mark.parametrize("key", [RSA, EC], ids=["RS256", "ES256"])
def test_a_valid_provider_token_is_200_and_its_groups_are_its_roles(
    api: ServerProcess, key: SigningKey
) -> None:
    researcher = key.token(sub=f"carol-{key.kid}", extra={GROUPS: ["researcher"]})
    assert get(api, researcher).status_code == 200
    created = httpx.post(
        f"{api.url}/api/v1/strategies/IdpOwned{key.algorithm}/versions",
        json={"code": minimal(f"IdpOwned{key.algorithm}")},
        headers={"Authorization": f"Bearer {researcher}"},
        timeout=15,
    )
    assert created.status_code == 201, created.text
    viewer = key.token(sub="vic", roles=["admin"], extra={GROUPS: ["viewer"]})  # `roles`: ignored
    assert get(api, viewer).status_code == 200
    refused = httpx.post(
        f"{api.url}/api/v1/strategies/Nope/versions",
        json={"code": minimal("Nope")},
        headers={"Authorization": f"Bearer {viewer}"},
        timeout=15,
    )
    assert "researcher" in problem(refused, 403)


@pytest.mark.parametrize(
    ("make_token", "reason"),
    [
        (lambda: RSA.token(ttl=-60, extra={GROUPS: ["admin"]}), "expired"),
        (lambda: EC.token(iss="https://evil.test/", extra={GROUPS: ["admin"]}), "issuer"),
        (lambda: RSA.token(aud="another-app", extra={GROUPS: ["admin"]}), "udience"),
        (lambda: SigningKey.rsa("not-published").token(extra={GROUPS: ["admin"]}), "not one of"),
        (lambda: unsigned_token(RSA.kid, extra={GROUPS: ["admin"]}), "'none' is not accepted"),
        (lambda: hmac_token(RSA.public_pem(), RSA.kid, extra={GROUPS: ["admin"]}), "not valid"),
        (lambda: hmac_token(json.dumps(EC.jwk()).encode(), EC.kid), "not valid"),
        (lambda: RSA.token(ttl=2 * 86_400, extra={GROUPS: ["admin"]}), "longer than the 86400 s"),
        (lambda: RSA.token(iat=None, extra={GROUPS: ["admin"]}), '"iat"'),
        (lambda: RSA.token(aud=None, extra={GROUPS: ["admin"]}), '"aud"'),
    ],
    ids=[
        "expired",
        "wrong-issuer",
        "wrong-audience",
        "unknown-kid",
        "alg-none",
        "hs256-with-rsa-public-key",
        "hs256-with-ec-jwk",
        "lives-two-days",
        "no-iat",
        "no-audience",
    ],
)
def test_bad_provider_tokens_are_401_problems(
    api: ServerProcess, make_token: Callable[[], str], reason: str
) -> None:
    assert reason in problem(get(api, make_token()), 401)


def test_local_tokens_keep_working_and_either_kind_gets_a_websocket_token(
    api: ServerProcess,
) -> None:
    assert get(api, api.token("alice", "researcher")).status_code == 200
    for token in (api.token("alice", "viewer"), RSA.token(extra={GROUPS: ["viewer"]})):
        answer = httpx.post(
            f"{api.url}/api/v1/ws/token", headers={"Authorization": f"Bearer {token}"}, timeout=15
        )
        assert answer.status_code in (200, 201), answer.text
        ws_token = answer.json()["token"]
        with connect(f"ws://127.0.0.1:{api.port}/api/v1/ws?token={ws_token}") as ws:
            ws.send(json.dumps({"action": "subscribe", "stream": "backtests"}))
            assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"


def test_a_flood_of_unknown_kids_costs_the_provider_one_request_at_most(
    api: ServerProcess, idp: JwksServer
) -> None:
    assert get(api, RSA.token(extra={GROUPS: ["viewer"]})).status_code == 200  # keys in hand
    before = idp.requests
    stranger = SigningKey.ec("x")
    for _ in range(40):
        token = stranger.token(kid=uuid.uuid4().hex, extra={GROUPS: ["admin"]})
        assert "not one of" in problem(get(api, token), 401)
    assert idp.requests - before <= 1


def test_a_provider_that_is_down_gives_401_saying_so_and_local_tokens_still_work(
    tmp_path: Path,
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/jwks.json"
    with ServerProcess(tmp_path / "idp-down", idp_env(nowhere)) as server:
        detail = problem(get(server, RSA.token(extra={GROUPS: ["viewer"]})), 401)
        assert "keys could not be fetched" in detail and nowhere in detail
        assert get(server, server.token("alice", "viewer")).status_code == 200


def test_a_provider_without_an_audience_refuses_to_start(idp: JwksServer, tmp_path: Path) -> None:
    env = idp_env(idp.url)
    del env["BACKEND_JWT_AUDIENCE"]
    server = ServerProcess(tmp_path / "no-audience", env)
    with pytest.raises(RuntimeError, match="needs BACKEND_JWT_AUDIENCE"):
        server.start(timeout=20)
