"""Market metadata made locally, so freqtrade can start without reaching the exchange.

Freqtrade loads the exchange's markets at start-up and stops when it cannot. With offline
markets on (the embedded default), the loader is replaced by one that installs generated,
ccxt-shaped spot markets for the pairs of the run. Imported only inside worker processes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

_markets: dict[str, dict[str, Any]] = {}
_installed = False


def spot_market(pair: str, fee: float = 0.001) -> dict[str, Any]:
    """A ccxt spot market for `pair` (BASE/QUOTE) with permissive limits and fine precision."""
    base, quote = pair.split("/", maxsplit=1)[0], pair.split("/")[1].split(":", maxsplit=1)[0]
    return {
        "id": f"{base}{quote}",
        "symbol": pair,
        "base": base,
        "quote": quote,
        "baseId": base,
        "quoteId": quote,
        "settle": None,
        "settleId": None,
        "type": "spot",
        "spot": True,
        "margin": False,
        "swap": False,
        "future": False,
        "option": False,
        "contract": False,
        "linear": None,
        "inverse": None,
        "active": True,
        "taker": fee,
        "maker": fee,
        "contractSize": None,
        "expiry": None,
        "expiryDatetime": None,
        "strike": None,
        "optionType": None,
        "precision": {"amount": 1e-8, "price": 1e-8, "cost": None, "base": None, "quote": None},
        "limits": {
            "amount": {"min": 1e-8, "max": 1e12},
            "cost": {"min": 1e-4, "max": None},
            "price": {"min": 1e-8, "max": 1e12},
            "leverage": {"min": None, "max": None},
            "market": {"min": None, "max": None},
        },
        "info": {},
    }


def set_pairs(pairs: Iterable[str]) -> None:
    """The markets the next exchange load will see: exactly these pairs."""
    _markets.clear()
    _markets.update({pair: spot_market(pair) for pair in pairs})


def install() -> None:
    """Replace freqtrade's market loader with the local one (once per process)."""
    global _installed
    if _installed:
        return
    from freqtrade.exchange.exchange import Exchange

    def _load_offline(self: Any, reload: bool = False) -> None:
        self._api_async.set_markets(dict(_markets))

    Exchange._load_async_markets = _load_offline  # type: ignore[method-assign]
    _installed = True
