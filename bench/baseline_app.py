"""The baseline: a bare Litestar app, served exactly like the API (uvicorn, one process)."""

from __future__ import annotations

import msgspec
from litestar import Litestar, get, post


class Order(msgspec.Struct, frozen=True):
    strategy: str
    pairs: list[str]
    timeframe: str
    timerange: str


@get("/ping", sync_to_thread=False)
def ping() -> dict[str, object]:
    return {"status": "ok", "items": [1, 2, 3]}


@post("/echo", sync_to_thread=False)
def echo(data: Order) -> Order:
    return data


app = Litestar(route_handlers=[ping, echo], debug=False)
