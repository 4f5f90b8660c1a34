"""The HTTP and WebSocket client behind `tradai backtest ...` and `tradai strategy ...`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx

FINAL = frozenset({"completed", "failed", "cancelled"})


class ApiError(Exception):
    """Something the user should read: what went wrong and what to do about it."""


def describe_problem(response: httpx.Response) -> str:
    """A problem-details answer as one or more plain lines."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    detail = body.get("detail") or response.reason_phrase
    status = response.status_code
    if status == 401:
        return (
            f"not authenticated: {detail}\n"
            "mint a token with `tradai token --sub NAME --role ROLE`, "
            "then pass --token or set TRADAI_TOKEN"
        )
    if status == 403:
        return f"forbidden: {detail}"
    lines = [f"{body.get('title') or 'error'} ({status}): {detail}"]
    field_errors = body.get("errors", [])
    if len(field_errors) > 1 or (field_errors and field_errors[0].get("message") not in detail):
        lines += [f"  - {e.get('field')}: {e.get('message')}" for e in field_errors]
    return "\n".join(lines)


class Api:
    """Calls the API at `url` with a bearer token; every failure becomes an ApiError."""

    def __init__(self, url: str, token: str | None, timeout: float = 30.0) -> None:
        if not token:
            raise ApiError(
                "no token: pass --token or set TRADAI_TOKEN "
                "(mint one with `tradai token --sub NAME --role researcher`)"
            )
        self.url = url.rstrip("/")
        self.token = token
        self.http = httpx.Client(
            base_url=f"{self.url}/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.ConnectError as error:
            raise ApiError(
                f"cannot reach the TradAI API at {self.url}: {error.__class__.__name__} ({error}); "
                "is the server running (`make run`), and is --url / TRADAI_URL right?"
            ) from None
        except httpx.TimeoutException:
            raise ApiError(f"the TradAI API at {self.url} did not answer in time") from None
        if response.status_code >= 400:
            raise ApiError(describe_problem(response))
        return response

    def get(self, path: str, **params: Any) -> Any:
        return self.call(
            "GET", path, params={k: v for k, v in params.items() if v is not None}
        ).json()

    def post(
        self, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return self.call("POST", path, json=body, headers=headers)

    def stream(self, stream: str, since: int | None) -> Iterator[dict[str, Any]]:
        """Messages of one live stream; reconnects with `since` if the connection drops."""
        from websockets.exceptions import ConnectionClosed, InvalidHandshake
        from websockets.sync.client import connect

        last = since
        failures = 0
        while True:
            token = self.post("/ws/token").json()["token"]
            ws_url = f"{self.url.replace('http', 'ws', 1)}/api/v1/ws?token={token}"
            try:
                with connect(ws_url, open_timeout=10) as socket:
                    socket.send(
                        json.dumps({"action": "subscribe", "stream": stream, "since": last})
                    )
                    for raw in socket:
                        message = json.loads(raw)
                        if message.get("type") == "error":
                            raise ApiError(f"live stream refused: {message['data'].get('detail')}")
                        failures = 0
                        if isinstance(message.get("position"), int):
                            last = message["position"]
                        yield message
            except (ConnectionClosed, OSError, InvalidHandshake) as error:
                failures += 1
                if failures > 5:
                    raise ApiError(f"lost the live stream {stream}: {error}") from None
