"""Market data endpoints: which candles the executor can use."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import Parameter

from adapters.market_data import availability
from app.auth import READ
from app.bootstrap import Container
from app.openapi import TOKEN, problems
from app.schemas import DataAvailability, PairCoverage
from domain.market import (
    EXCHANGE,
    PAIR,
    TIMEFRAMES,
    TIMERANGE,
    check_exchange,
    check_pair,
    check_timeframe,
    parse_timerange,
)

# The documented forms; the domain checks each (422 naming the pair, timeframe or range).
_ONE_PAIR = PAIR.pattern.removeprefix("^").removesuffix("$")
PAIR_LIST = f"^{_ONE_PAIR}(,{_ONE_PAIR})*$"


class DataController(Controller):
    path = "/api/v1/data"
    tags = ["data"]

    @get("/availability", opt=READ, sync_to_thread=True, responses=problems(*TOKEN, 400, 422, 503))
    def availability(
        self,
        container: Container,
        pairs: Annotated[
            str,
            Parameter(
                max_length=2000,
                description="comma-separated, e.g. BTC/USDT,ETH/USDT",
                schema_extra={"pattern": PAIR_LIST},
            ),
        ],
        timeframe: Annotated[str, Parameter(max_length=8, schema_extra={"enum": TIMEFRAMES})],
        timerange: Annotated[
            str,
            Parameter(
                max_length=17,
                description="YYYYMMDD-YYYYMMDD",
                schema_extra={"pattern": TIMERANGE.pattern},
            ),
        ],
        exchange: Annotated[
            str, Parameter(max_length=32, schema_extra={"pattern": EXCHANGE.pattern})
        ] = "binance",
    ) -> DataAvailability:
        """Per pair: do candles exist, their first and last time, do they span the range."""
        wanted = [p.strip() for p in pairs.split(",") if p.strip()]
        for index, pair in enumerate(wanted):
            check_pair(pair, f"pairs[{index}]")
        check_timeframe(timeframe)
        check_exchange(exchange)
        start, end = parse_timerange(timerange)
        # Candles in S3 are synced into the local cache first (a HEAD per file, a download
        # only when it changed), and read from there as local ones are.
        found = availability(container.market_data, exchange, wanted, timeframe, start, end)
        return DataAvailability(
            exchange=exchange,
            timeframe=timeframe,
            timerange=timerange,
            complete=bool(found) and all(c.covers_range for c in found),
            pairs=[
                PairCoverage(c.pair, c.available, c.covers_range, c.first, c.last, c.candles)
                for c in found
            ],
        )
