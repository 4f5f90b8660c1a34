"""Real HTTP servers standing in for the services behind the gateway, on free loopback ports:
one that echoes what it received, one that is slow, one that streams a large body, and one
that closes every connection without answering."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = 1 << 20


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self) -> None:
        body = self._body()
        if self.path.startswith("/slow"):
            time.sleep(float(self.path.split("/")[2]))
        if self.path.startswith("/download/"):
            self._download(int(self.path.split("/")[2]))
            return
        echo = {
            "method": self.command,
            "path": self.path,
            "headers": [[k.lower(), v] for k, v in self.headers.items()],
            "body": body.decode("utf-8", "replace"),
            "body_bytes": len(body),
        }
        data = json.dumps(echo).encode()
        status = int(self.headers.get("X-Answer-Status") or 200)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "keep-alive, X-Hop")
        self.send_header("X-Hop", "must not pass")
        self.send_header("Keep-Alive", "timeout=5")
        self.send_header("X-Downstream", "echo")
        if self.headers.get("X-Answer-Cookie"):  # a downstream that sets cookies
            self.send_header("Set-Cookie", "session=downstream; Path=/")
            self.send_header("Set-Cookie", "other=1; Path=/api")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _download(self, size: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        block = b"x" * CHUNK
        left = size
        while left > 0:
            self.wfile.write(block[: min(left, CHUNK)])
            left -= CHUNK

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _answer


@contextmanager
def echo_server() -> Iterator[str]:
    """The base URL of a threaded HTTP server that echoes requests (and /slow/S, /download/N)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def closing_server() -> Iterator[str]:
    """The base URL of a server that accepts connections and closes them at once."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        listener.close()
