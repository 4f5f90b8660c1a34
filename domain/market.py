"""Market vocabulary: pairs, timeframes and time ranges as freqtrade understands them."""

from __future__ import annotations

import re
from datetime import date

from domain.errors import InvalidValue

# Anchored patterns, also published in the OpenAPI document; checked with fullmatch, so a trailing
# newline (which `$` alone lets through) is refused too.
PAIR = re.compile(r"^[A-Z0-9]{2,15}/[A-Z0-9]{2,15}(:[A-Z0-9]{2,15})?$")
TIMEFRAMES = (
    "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w",
)  # fmt: skip
EXCHANGE = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
TIMERANGE = re.compile(r"^([0-9]{8})-([0-9]{8})$")  # ASCII digits: \d takes any script's


def check_pair(pair: str, field: str = "pairs") -> None:
    """A pair is BASE/QUOTE in capitals, as freqtrade writes it (BTC/USDT)."""
    if not PAIR.fullmatch(pair):
        raise InvalidValue(field, f"{pair!r} is not a pair; write BASE/QUOTE, e.g. BTC/USDT")


def check_timeframe(timeframe: str) -> None:
    """Only the candle sizes freqtrade's exchanges share."""
    if timeframe not in TIMEFRAMES:
        raise InvalidValue(
            "timeframe", f"{timeframe!r} is not a timeframe; use one of {', '.join(TIMEFRAMES)}"
        )


def check_exchange(exchange: str) -> None:
    """Exchange ids are ccxt's lower-case names (binance, kraken, ...)."""
    if not EXCHANGE.fullmatch(exchange):
        raise InvalidValue("exchange", f"{exchange!r} is not an exchange id, e.g. binance")


def parse_timerange(timerange: str) -> tuple[date, date]:
    """Parse YYYYMMDD-YYYYMMDD into (start, end); the end must come after the start."""
    match = TIMERANGE.fullmatch(timerange)
    if not match:
        raise InvalidValue("timerange", f"{timerange!r} is not YYYYMMDD-YYYYMMDD")
    try:  # the pattern matched eight digits each; date() checks the calendar (strptime is slow)
        start, end = (date(int(p[:4]), int(p[4:6]), int(p[6:])) for p in match.groups())
    except ValueError:
        raise InvalidValue("timerange", f"{timerange!r} holds a date that does not exist") from None
    if end <= start:
        raise InvalidValue("timerange", f"{timerange!r} ends before it starts")
    return start, end
