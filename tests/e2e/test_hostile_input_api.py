"""A hostile client against a real server with real secrets: every refusal is a cheap 4xx, and
nothing secret reaches the server's log or `tradai settings`.

The server runs on PostgreSQL through URLs with a password, with a known JWT secret, a Kafka
SASL password and AWS keys in its environment; the tests provoke every error path they can
(bad tokens, bad and deep bodies, unknown routes and methods, a body too large, bounded
parameters, unparsable code, a deep WebSocket message), then read the server's whole log.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from adapters.event_store import open_event_store
from domain.strategy import Strategy
from domain.strategy_version import StrategyVersion
from tests.e2e.conftest import client_for
from tests.factories import submit_body
from tests.support.postgres import running_postgres
from tests.support.server import ServerProcess
from tests.support.strategies import minimal

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

JWT_SECRET = "k3Yf9QvT2mWx7LpR4nBz8HsJ6dGc1UaE5oIyPqNtVrXwMbKlZjAhCsDfFgTuOiPe"  # 64 characters
PG_PASSWORD = "pg-Pa55w0rd-Zq8Xv"
SASL_PASSWORD = "sasl-Pa55w0rd-Rt4Yu"
AWS_KEY_ID = "AKIAQWERTYUIOPASDFGH"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
DEEP_LEVELS = 962  # the depth the finding used: just under the decoder's recursion limit


def nested(levels: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(levels):
        value = {"a": value}
    return value


def seed_old_deep_version(url: str) -> None:
    """A version registered before parameters were bounded: its event holds them 962 deep.
    Written through the domain, as the API once accepted it (events are forever)."""
    store = open_event_store(url)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(limit + 2 * DEEP_LEVELS)  # pytest's own frames are many
    try:
        strategy = Strategy(name="OldDeep", created_by="olga")
        version = StrategyVersion.register(
            name="OldDeep",
            number=1,
            code=minimal("OldDeep"),
            parameters={"x": nested(DEEP_LEVELS), "flat": 3},
            description="registered before the bounds",
            registered_by="olga",
        )
        strategy.add_version(version.number, version.id, version.code_sha256)
        store.save(strategy, version)
    finally:
        sys.setrecursionlimit(limit)
        store.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_postgres() as postgres:
        plain = postgres.new_database()  # postgresql://postgres@host:port/db; trust accepts any
        url = plain.replace("postgres@", f"postgres:{PG_PASSWORD}@", 1)
        seed_old_deep_version(url)
        env = {
            "BACKEND_EXECUTOR": "off",
            "BACKEND_LOG_LEVEL": "info",  # the most the log says: every line is checked
            "BACKEND_JWT_SECRET": JWT_SECRET,
            "BACKEND_EVENT_STORE_URL": url,
            "BACKEND_READ_MODEL_URL": url,
            "BACKEND_KAFKA_SASL_USERNAME": "tradai",
            "BACKEND_KAFKA_SASL_PASSWORD": SASL_PASSWORD,
            "AWS_ACCESS_KEY_ID": AWS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
        }
        process = ServerProcess(tmp_path_factory.mktemp("hostile"), env)
        process.start()
        try:
            yield process
        finally:
            process.stop()


@pytest.fixture(scope="module")
def researcher(server: ServerProcess) -> Iterator[httpx.Client]:
    with client_for(server, "alice", "researcher") as client:
        yield client


@pytest.fixture(scope="module")
def tokens_used(researcher: httpx.Client) -> list[str]:
    """Every token the module sends: each must stay out of the log."""
    return [researcher.headers["Authorization"].split()[1]]


def version_body(**fields: Any) -> dict[str, Any]:
    return {"code": minimal("Bounded")} | fields


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (version_body(parameters={"x": {"y": {"z": 1}}}), "parameters.x"),
        (version_body(parameters={"x": [[1]]}), "parameters.x"),
        (version_body(parameters={f"p{i}": i for i in range(65)}), "parameters"),
        (version_body(parameters={"x": "s" * 1001}), "parameters.x"),
        (version_body(parameters={"x": list(range(65))}), "parameters.x"),
        (version_body(parameters={"n" * 65: 1}), "parameters"),
        (submit_body(strategy="Bounded", parameters={"x": "s" * 1001}), "parameters.x"),
        (submit_body(strategy="Bounded", parameters={f"p{i}": i for i in range(65)}), "parameters"),
    ],
)
def test_parameters_beyond_the_bounds_are_422_naming_the_field(
    researcher: httpx.Client, body: dict[str, Any], field: str
) -> None:
    path = "/strategies/Bounded/versions" if "code" in body else "/backtests"
    answer = researcher.post(path, json=body)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert [e["field"] for e in problem["errors"]] == [field], problem


def test_flat_parameters_within_the_bounds_are_kept(researcher: httpx.Client) -> None:
    parameters = {"note": "s" * 1000, "spans": list(range(64)), "on": True, "none": None}
    answer = researcher.post(
        "/strategies/Flat/versions", json={"code": minimal("Flat")} | {"parameters": parameters}
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["parameters"] == parameters


def test_a_sweep_space_with_an_overlong_value_is_422(researcher: httpx.Client) -> None:
    body = submit_body(strategy="Bounded") | {"space": {"x": ["s" * 1001]}, "objective": "sharpe"}
    answer = researcher.post("/sweeps", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "space.x"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/backtests", b"[" * 100_000 + b"]" * 100_000),
        ("/strategies/Deep/versions", b'{"code": "x", "x": ' + b"[" * 99_999 + b"]" * 99_999 + b"}"),  # noqa: E501
        ("/sweeps", b"{" + b'"a":{' * 50_000 + b"}" * 50_001),
        ("/strategies/Deep/versions/1/promotions", b"[" * 33 + b"]" * 33),
    ],
)  # fmt: skip
def test_bodies_nested_deeper_than_32_levels_are_400_and_cheap(
    researcher: httpx.Client, path: str, body: bytes
) -> None:
    started = time.monotonic()
    answer = researcher.post(path, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert "32 levels" in answer.json()["detail"]
    assert time.monotonic() - started < 2


def test_a_version_with_parameters_962_levels_deep_is_refused(researcher: httpx.Client) -> None:
    deep = '{"a": ' * DEEP_LEVELS + "1" + "}" * DEEP_LEVELS  # too deep for json.dumps here
    body = '{"code": ' + json.dumps(minimal("Deep")) + ', "parameters": {"x": ' + deep + "}}"
    answer = researcher.post("/strategies/Deep/versions", content=body)
    assert answer.status_code == 400, answer.text  # deeper than any body may be
    shallow = {"code": minimal("Deep"), "parameters": {"x": nested(20)}}
    answer = researcher.post("/strategies/Deep/versions", json=shallow)
    assert answer.status_code == 422, answer.text  # within the body's depth: flat parameters
    assert answer.json()["errors"][0]["field"] == "parameters.x"
    assert researcher.get("/strategies/Deep").status_code == 404, "nothing was registered"


def test_an_old_version_with_deep_parameters_still_reads_fast(researcher: httpx.Client) -> None:
    for path in (
        "/strategies/OldDeep",
        "/strategies/OldDeep/versions/1",
        "/strategies/OldDeep/versions/1?at=2100-01-01T00:00:00Z",
        "/strategies",
    ):
        started = time.monotonic()
        answer = researcher.get(path)
        assert answer.status_code == 200, (path, answer.text[:300])
        assert time.monotonic() - started < 2, path
    version = researcher.get("/strategies/OldDeep/versions/1").json()
    assert version["parameters"]["flat"] == 3
    assert "not shown" in version["parameters"]["x"]


@pytest.mark.parametrize(
    "code",
    [
        "(" * 100_000,
        "x = " + "-" * 100_000 + "1",
        "x = " + "1 + " * 60_000 + "1",
        "x = " + "-" * 150 + "1",
        "x = 1\n" * 10_001,
        "class Broken(IStrategy:\n    pass\n",
    ],
)
def test_pathological_code_is_422_naming_the_code(researcher: httpx.Client, code: str) -> None:
    started = time.monotonic()
    answer = researcher.post("/strategies/Pathological/versions", json={"code": code})
    assert answer.status_code == 422, answer.text[:300]
    assert answer.json()["errors"][0]["field"] == "code"
    assert time.monotonic() - started < 5


def test_a_deep_websocket_message_is_answered_with_an_error(
    server: ServerProcess, researcher: httpx.Client, tokens_used: list[str]
) -> None:
    token = researcher.post("/ws/token").json()["token"]
    tokens_used.append(token)
    with connect(f"ws://127.0.0.1:{server.port}/api/v1/ws?token={token}") as socket:
        deep = "[" * 100_000 + "]" * 100_000
        socket.send('{"action": "subscribe", "stream": "strategies", "x": ' + deep + "}")
        answer = json.loads(socket.recv(timeout=10))
        assert answer["type"] == "error" and "32 levels" in answer["data"]["detail"], answer
        socket.send(json.dumps({"action": "subscribe", "stream": "strategies/OldDeep", "since": 0}))
        # The old deep event replays as it was stored (too deep for this process's json to
        # read back: its text is checked), and the stream carries on.
        while '"type":"StrategyVersion.Registered"' not in (message := str(socket.recv(10))):
            assert '"type":"error"' not in message, message


def test_every_error_path_leaves_no_secret_in_the_log(
    server: ServerProcess, researcher: httpx.Client, tokens_used: list[str]
) -> None:
    api = f"{server.url}/api/v1"
    now = int(time.time())
    forged = jwt.encode({"sub": "mallory", "roles": ["admin"], "exp": now + 600}, "x" * 64)
    expired = jwt.encode({"sub": "alice", "roles": ["admin"], "exp": now - 10}, JWT_SECRET)
    bad_claims = jwt.encode({"sub": "alice", "roles": "admin", "exp": now + 600}, JWT_SECRET)
    valid = server.token("alice", "researcher")
    viewer = server.token("victor", "viewer")
    tokens_used.extend([forged, expired, bad_claims, valid, viewer])
    with httpx.Client(timeout=30) as http:
        for token in (forged, expired, bad_claims, "not.a.token", valid[:-4] + "AAAA"):
            answer = http.get(f"{api}/backtests", headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 401
        as_viewer = {"Authorization": f"Bearer {viewer}"}
        assert (
            http.post(f"{api}/backtests", json=submit_body(), headers=as_viewer).status_code == 403
        )
        auth = {"Authorization": f"Bearer {valid}"}
        assert http.get(f"{api}/no-such-route", headers=auth).status_code == 404
        assert http.put(f"{api}/backtests", headers=auth).status_code == 405
        too_big = http.post(
            f"{api}/strategies/Big/versions", content=b"x" * 2_000_000, headers=auth
        )
        assert too_big.status_code == 413
        assert (
            http.post(f"{api}/backtests", content=b'{"strategy": ', headers=auth).status_code == 400
        )
        deep = http.post(f"{api}/backtests", content=b"[" * 100_000 + b"]" * 100_000, headers=auth)
        assert deep.status_code == 400
    url = f"ws://127.0.0.1:{server.port}/api/v1/ws?token={forged}"
    with connect(url) as socket, pytest.raises(ConnectionClosed) as closed:
        socket.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    server.stop()  # every line written
    log = server.log_path.read_text()
    assert "401" in log and "413" in log, "the log records the refusals it must keep secrets out of"
    secrets = [PG_PASSWORD, SASL_PASSWORD, AWS_KEY_ID, AWS_SECRET, JWT_SECRET]
    secrets += [JWT_SECRET[i : i + 16] for i in range(len(JWT_SECRET) - 15)]
    for token in tokens_used:
        secrets += [token, *token.split(".")[1:]]  # the header is the same for every token
    leaked = sorted({s for s in secrets if s and s in log}, key=len)
    assert not leaked, f"in the log: {leaked[:5]}"
    assert "Traceback" not in log or "locals" not in log


def test_tradai_settings_prints_no_secret(server: ServerProcess) -> None:
    tradai = Path(sys.executable).parent / "tradai"
    done = subprocess.run(
        [str(tradai), "settings"], env=server.env(), capture_output=True, text=True, check=True
    )
    out = done.stdout
    for secret in (JWT_SECRET, PG_PASSWORD, SASL_PASSWORD, JWT_SECRET[:16]):
        assert secret not in out
    assert "BACKEND_EVENT_STORE_URL" in out and ":[redacted]@127.0.0.1" in out
    assert "BACKEND_KAFKA_SASL_PASSWORD" in out and "[redacted]" in out
