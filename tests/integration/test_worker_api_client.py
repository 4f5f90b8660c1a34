"""What `tradai worker`'s HTTP client sends, against a real HTTP server on loopback: the claim's
secret with every report, and the token of a token file that something else renews."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from app.worker.api import SECRET_HEADER, WorkerApi


class Recorder(BaseHTTPRequestHandler):
    """Answers every POST as a held attempt and keeps the request's path and headers."""

    seen: list[tuple[str, dict[str, str]]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.seen.append((self.path, dict(self.headers.items())))
        body = json.dumps({"attempt": 1, "cancel_requested": False, "outcome": "accepted"})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: Any) -> None:  # quiet: no line per request
        pass


@pytest.fixture
def api_url() -> Iterator[str]:
    Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_every_report_carries_the_claims_secret(api_url: str) -> None:
    api = WorkerApi(api_url, "token-1", "w1")
    job_id = uuid.uuid4()
    try:
        api.heartbeat(job_id, 1, "secret-of-the-claim")
        api.progress(job_id, 1, "secret-of-the-claim", "backtest", 0.5)
        assert api.report(job_id, 1, "secret-of-the-claim", "failed", {"reason": "x"}, 5.0)
    finally:
        api.close()
    paths = [path for path, _ in Recorder.seen]
    assert [p.rsplit("/", 1)[1] for p in paths] == ["heartbeat", "progress", "failed"]
    for _, headers in Recorder.seen:
        assert headers[SECRET_HEADER] == "secret-of-the-claim"
        assert headers["Authorization"] == "Bearer token-1"


def test_a_renewed_token_file_is_used_from_the_next_call(api_url: str, tmp_path: Path) -> None:
    token_file = tmp_path / "worker-token"
    token_file.write_text("first-token\n")
    api = WorkerApi(api_url, "", "w1", token_file=token_file)
    job_id = uuid.uuid4()
    try:
        api.heartbeat(job_id, 1, "s")
        renewed = tmp_path / "worker-token.new"  # replaced the way a renewer does: a rename
        renewed.write_text("second-token-that-is-longer\n")
        os.replace(renewed, token_file)
        api.heartbeat(job_id, 1, "s")
        token_file.unlink()  # while it is away, the last token serves
        api.heartbeat(job_id, 1, "s")
    finally:
        api.close()
    tokens = [headers["Authorization"] for _, headers in Recorder.seen]
    assert tokens == [
        "Bearer first-token",
        "Bearer second-token-that-is-longer",
        "Bearer second-token-that-is-longer",
    ]
