"""Token lifetimes and secrets through a real `tradai serve` and the real `tradai` command, and
the web UI's content security policy."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

DAY = 86_400


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("tokens"), {"BACKEND_EXECUTOR": "off"}) as running:
        yield running


def _get(server: ServerProcess, token: str) -> httpx.Response:
    return httpx.get(
        f"{server.url}/api/v1/backtests", headers={"Authorization": f"Bearer {token}"}, timeout=15
    )


@pytest.mark.parametrize(
    ("lifetime", "reason"),
    [
        ({"iat": 0, "exp": 2 * DAY}, "valid for 172800 s, longer than the 86400 s"),
        ({"exp": 600}, '"iat"'),
        ({"iat": -DAY, "exp": DAY}, "longer than the 86400 s"),
    ],
    ids=["two-days", "no-iat", "issued-long-ago"],
)
def test_a_local_token_living_longer_than_a_day_is_401(
    server: ServerProcess, lifetime: dict[str, int], reason: str
) -> None:
    secret = (server.data_dir / "jwt-secret").read_text().strip()
    now = int(time.time())
    claims = {"sub": "mallory", "roles": ["admin"]} | {k: now + v for k, v in lifetime.items()}
    answer = _get(server, jwt.encode(claims, secret, algorithm="HS256"))
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert reason in answer.json()["detail"]
    day = {"sub": "alice", "roles": ["viewer"], "iat": now, "exp": now + DAY}
    assert _get(server, jwt.encode(day, secret, algorithm="HS256")).status_code == 200


def _tradai(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    tradai = Path(sys.executable).parent / "tradai"
    return subprocess.run(
        [str(tradai), *args],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_tradai_token_refuses_a_ttl_over_the_maximum(server: ServerProcess) -> None:
    refused = _tradai(server, "token", "--sub", "w", "--role", "worker", "--ttl", "2592000")
    assert refused.returncode == 2 and not refused.stdout
    assert "--ttl 2592000 is longer than BACKEND_JWT_MAX_TTL_SECONDS (86400 s)" in refused.stderr
    day = _tradai(server, "token", "--sub", "alice", "--role", "viewer", "--ttl", str(DAY))
    assert day.returncode == 0 and _get(server, day.stdout.strip()).status_code == 200


@pytest.mark.parametrize("secret", ["s3cret", "x" * 31])
def test_a_short_secret_refuses_the_start(tmp_path: Path, secret: str) -> None:
    short = ServerProcess(tmp_path / "short", {"BACKEND_JWT_SECRET": secret})
    with pytest.raises(RuntimeError, match=r"BACKEND_JWT_SECRET is \d+ bytes; use at least 32"):
        short.start(timeout=60)  # it exits at once; the time is for a loaded machine


def test_the_ui_policy_names_its_own_origin_for_websockets(server: ServerProcess) -> None:
    page = httpx.get(f"{server.url}/", timeout=15)
    csp = page.headers["content-security-policy"]
    connect_src = next(d for d in csp.split("; ") if d.startswith("connect-src"))
    host = f"127.0.0.1:{server.port}"
    assert connect_src == f"connect-src 'self' ws://{host} wss://{host}"
    assert " ws: " not in csp + " " and " wss:" not in csp.replace(f"wss://{host}", "")
    # A Host header that is not a plain host[:port] allows no WebSocket at all.
    odd = httpx.get(f"{server.url}/", headers={"Host": "evil.example:123456"}, timeout=15)
    assert "connect-src 'self';" in odd.headers["content-security-policy"]
