"""OpenTelemetry across the gateway: a real server exporting over OTLP/HTTP to a receiver the
test runs, a caller's trace continued through the proxy to a real downstream server."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.e2e.conftest import client_for
from tests.support.downstream import echo_server
from tests.support.server import ServerProcess

pytestmark = pytest.mark.e2e

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


class Receiver:
    """An OTLP/HTTP trace receiver: keeps every exported span."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str, int]] = []  # (trace id, name, kind)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest.FromString(body)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        for span in scope.spans:
                            receiver.spans.append((span.trace_id.hex(), span.name, span.kind))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Receiver]]:
    receiver = Receiver()
    with echo_server() as echo:
        env = {
            "BACKEND_EXECUTOR": "off",
            "BACKEND_STRATEGY_SERVICE_URL": echo,
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_SERVICE_NAME": "tradai-test",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }
        with ServerProcess(tmp_path_factory.mktemp("traced"), env) as server:
            yield server, receiver
    receiver.server.shutdown()


def test_a_callers_trace_continues_through_the_gateway(
    traced: tuple[ServerProcess, Receiver],
) -> None:
    server, receiver = traced
    parent = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
    with client_for(server, "alice", "viewer") as client:
        answer = client.get("/proxy/strategy-service/strategies", headers={"traceparent": parent})
    assert answer.status_code == 200
    sent = dict(answer.json()["headers"])
    _, trace_id, parent_span, _ = sent["traceparent"].split("-")
    assert trace_id == TRACE_ID  # the downstream call is in the caller's trace,
    assert parent_span != "00f067aa0ba902b7"  # as a child of the gateway's own client span
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        kinds = {kind for trace_id, _, kind in receiver.spans if trace_id == TRACE_ID}
        if {2, 3} <= kinds:  # SERVER (the API's request) and CLIENT (the downstream call)
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"spans of the trace never arrived: {receiver.spans}")


def test_without_the_endpoint_the_sdk_and_exporter_are_not_imported() -> None:
    # (Litestar itself imports the small `opentelemetry` API package when it is installed.)
    code = (
        "import os, sys, tempfile\n"
        "os.environ['BACKEND_DATA_DIR'] = tempfile.mkdtemp()\n"
        "os.environ['BACKEND_EXECUTOR'] = 'off'\n"
        "os.environ.pop('OTEL_EXPORTER_OTLP_ENDPOINT', None)\n"
        "from app.factory import create_app\n"
        "create_app()\n"
        "heavy = ('opentelemetry.sdk', 'opentelemetry.exporter',\n"
        "         'opentelemetry.instrumentation.httpx')\n"
        "loaded = [m for m in sys.modules if m.startswith(heavy)]\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
