"""The gateway against real downstream HTTP servers the test starts (echo, slow, streaming,
closing), through a real `tradai serve` process."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import client_for
from tests.support.downstream import closing_server, echo_server
from tests.support.ports import free_port
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

TIMEOUT = 1.5


@dataclass
class Gateway:
    server: ServerProcess
    viewer: httpx.Client
    researcher: httpx.Client


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with echo_server() as echo, closing_server() as closing:
        env = {
            "BACKEND_EXECUTOR": "off",
            "BACKEND_STRATEGY_SERVICE_URL": echo,
            "BACKEND_DATA_COLLECTION_URL": closing,
            "BACKEND_MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}",  # nothing there
            "BACKEND_PROXY_TIMEOUT_SECONDS": str(TIMEOUT),
        }
        with (
            ServerProcess(tmp_path_factory.mktemp("gateway"), env) as server,
            client_for(server, "vera", "viewer") as viewer,
            client_for(server, "rex", "researcher") as researcher,
        ):
            yield Gateway(server, viewer, researcher)


def headers_of(echo: dict[str, object]) -> dict[str, str]:
    pairs = echo["headers"]
    assert isinstance(pairs, list)
    return {k: v for k, v in pairs}


def test_a_get_is_forwarded_with_path_query_and_who_is_asking(gateway: Gateway) -> None:
    answer = gateway.viewer.get(
        "/proxy/strategy-service/strategies/EmaCross/versions",
        params={"stage": "production", "q": "a b"},
        headers={"X-Request-ID": "req-123", "X-Forwarded-User": "mallory", "Accept": "text/x"},
    )
    assert answer.status_code == 200
    echo = answer.json()
    assert echo["method"] == "GET"
    assert echo["path"] == "/strategies/EmaCross/versions?stage=production&q=a+b"
    sent = headers_of(echo)
    assert "authorization" not in sent
    assert sent["x-forwarded-user"] == "vera"  # the caller's own claim is replaced
    assert sent["x-forwarded-roles"] == "viewer"
    assert sent["x-request-id"] == "req-123"
    assert sent["accept"] == "text/x"
    assert answer.headers["x-request-id"] == "req-123"
    # Hop-by-hop headers of the downstream (and those its Connection header names) stop here.
    assert answer.headers["x-downstream"] == "echo"
    assert "x-hop" not in answer.headers and "keep-alive" not in answer.headers


def test_a_request_without_an_id_gets_one_and_the_downstream_sees_the_same(
    gateway: Gateway,
) -> None:
    answer = gateway.viewer.get("/proxy/strategy-service/ping")
    request_id = answer.headers["x-request-id"]
    assert len(request_id) >= 16
    assert headers_of(answer.json())["x-request-id"] == request_id
    # Every answer carries one, a 401 and a 404 of no route included.
    assert httpx.get(f"{gateway.server.url}/api/v1/backtests").headers["x-request-id"]
    assert gateway.viewer.get("/nowhere").headers["x-request-id"]


def test_writes_need_a_researcher_and_their_bodies_and_types_pass(gateway: Gateway) -> None:
    refused = gateway.viewer.post("/proxy/strategy-service/strategies", json={"a": 1})
    assert refused.status_code == 403
    answer = gateway.researcher.post(
        "/proxy/strategy-service/strategies",
        content=b'{"name": "EmaCross"}',
        headers={"Content-Type": "application/json", "Connection": "X-Secret", "X-Secret": "1"},
    )
    assert answer.status_code == 200
    echo = answer.json()
    assert echo["method"] == "POST" and echo["body"] == '{"name": "EmaCross"}'
    sent = headers_of(echo)
    assert sent["content-type"] == "application/json"
    assert sent["x-forwarded-roles"] == "researcher"
    assert "x-secret" not in sent  # named by the caller's Connection header: hop-by-hop

    for method in ("PUT", "PATCH", "DELETE"):
        answer = gateway.researcher.request(method, "/proxy/strategy-service/x", content=b"1")
        assert answer.json()["method"] == method


def test_a_streamed_upload_arrives_whole(gateway: Gateway) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(8):
            yield b"y" * 65536

    answer = gateway.researcher.post("/proxy/strategy-service/upload", content=chunks())
    assert answer.status_code == 200 and answer.json()["body_bytes"] == 8 * 65536


def test_the_downstream_status_and_head_pass_through(gateway: Gateway) -> None:
    answer = gateway.viewer.get(
        "/proxy/strategy-service/missing", headers={"X-Answer-Status": "404"}
    )
    assert answer.status_code == 404 and answer.json()["path"] == "/missing"
    head = gateway.viewer.head("/proxy/strategy-service/thing")
    assert head.status_code == 200 and head.content == b""


@pytest.mark.parametrize(
    "path",
    [
        "../admin",
        "a/../../admin",
        "%2e%2e/admin",
        "a/%2E%2E/%2e%2e/admin",
        "%252e%252e/admin",
        "..%2fadmin",
        "%2F%2Fevil.example/x",
        "http:%2F%2Fevil.example/x",
        "a%5c..%5cadmin",
    ],
)
def test_a_path_that_leaves_its_service_is_refused(gateway: Gateway, path: str) -> None:
    # http.client sends the path as written (httpx would resolve the dot segments itself).
    connection = http.client.HTTPConnection("127.0.0.1", gateway.server.port, timeout=10)
    token = gateway.viewer.headers["Authorization"]
    connection.request(
        "GET", f"/api/v1/proxy/strategy-service/{path}", headers={"Authorization": token}
    )
    answer = connection.getresponse()
    body = json.loads(answer.read())
    connection.close()
    assert answer.status == 400, body
    assert body["status"] == 400 and "path" in body["detail"]


def test_an_unknown_service_is_404(gateway: Gateway) -> None:
    answer = gateway.viewer.get("/proxy/billing/x")
    assert answer.status_code == 404 and "strategy-service" in answer.json()["detail"]


def test_a_downstream_that_is_down_is_502_and_one_that_closes_is_502(gateway: Gateway) -> None:
    down = gateway.viewer.get("/proxy/mlflow/api/2.0/mlflow/experiments/list")
    assert down.status_code == 502
    assert down.headers["content-type"].startswith("application/problem+json")
    assert "mlflow" in down.json()["detail"] and "unreachable" in down.json()["detail"]
    closed = gateway.viewer.get("/proxy/data-collection/anything")
    assert closed.status_code == 502


def test_a_slow_downstream_is_504_after_the_timeout(gateway: Gateway) -> None:
    started = time.monotonic()
    slow = gateway.viewer.get("/proxy/strategy-service/slow/5")
    took = time.monotonic() - started
    assert slow.status_code == 504, slow.text
    assert f"{TIMEOUT:g} s" in slow.json()["detail"]
    assert TIMEOUT <= took < TIMEOUT + 2


def _rss_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_a_100_mb_download_streams_without_growing_the_api(gateway: Gateway) -> None:
    assert gateway.server.process is not None
    pid = gateway.server.process.pid
    gateway.viewer.get("/proxy/strategy-service/download/1048576")  # warm the path
    before = _rss_peak_mb(pid)
    size = 100 * 1024 * 1024
    received = 0
    with gateway.viewer.stream("GET", f"/proxy/strategy-service/download/{size}") as answer:
        assert answer.status_code == 200
        assert answer.headers["content-length"] == str(size)
        for chunk in answer.iter_raw():
            received += len(chunk)
    assert received == size
    grown = _rss_peak_mb(pid) - before
    assert grown < 30, f"the API's peak memory grew {grown:.0f} MB for a 100 MB download"


def test_the_caller_cannot_speak_for_the_gateway(gateway: Gateway) -> None:
    """Forwarding headers are the gateway's own, whatever the caller sent, and names that read
    as a protected one with `_` for `-` (which some servers fold into `-`) are dropped."""
    claimed = {
        "X-Forwarded-For": "10.0.0.1",
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Prefix": "/admin",
        "X-Forwarded-Email": "root@example.com",
        "Forwarded": "for=10.0.0.1;host=evil.example;proto=https",
        "X-Real-IP": "10.0.0.1",
        "x_forwarded_user": "mallory",
        "x_forwarded_roles": "admin",
        "X_Forwarded_For": "10.0.0.2",
        "x-forwarded_user": "mallory",
        "x_real_ip": "10.0.0.3",
        "X_Request_ID": "forged",
        "x_authorization": "kept: not a protected name",
    }
    answer = gateway.viewer.get("/proxy/strategy-service/who", headers=claimed)
    assert answer.status_code == 200
    pairs = [(k, v) for k, v in answer.json()["headers"]]
    names = [k for k, _ in pairs]
    for name in ("x_forwarded_user", "x_forwarded_roles", "x_forwarded_for", "x_real_ip"):
        assert name not in names, name
    assert "x-forwarded_user" not in names and "x_request_id" not in names
    assert "x-forwarded-email" not in names and "x-forwarded-port" not in names
    sent = headers_of(answer.json())
    # Each forwarding header is there once, with what the gateway saw.
    for name in ("x-forwarded-for", "x-forwarded-host", "forwarded", "x-real-ip"):
        assert names.count(name) == 1, name
    assert sent["x-forwarded-for"] == "127.0.0.1" and sent["x-real-ip"] == "127.0.0.1"
    assert sent["x-forwarded-host"] == f"127.0.0.1:{gateway.server.port}"
    assert sent["x-forwarded-proto"] == "http"
    assert sent["x-forwarded-prefix"] == "/api/v1/proxy/strategy-service"
    assert sent["forwarded"] == f'for=127.0.0.1;host="127.0.0.1:{gateway.server.port}";proto=http'
    assert sent["x-forwarded-user"] == "vera" and sent["x-forwarded-roles"] == "viewer"
    assert sent["x_authorization"] == "kept: not a protected name"


def test_downstream_cookies_stay_behind_and_answers_are_not_sniffed(gateway: Gateway) -> None:
    answer = gateway.viewer.get("/proxy/strategy-service/login", headers={"X-Answer-Cookie": "1"})
    assert answer.status_code == 200 and answer.json()["path"] == "/login"
    assert "set-cookie" not in answer.headers
    assert not gateway.viewer.cookies
    assert answer.headers.get_list("x-content-type-options") == ["nosniff"]
