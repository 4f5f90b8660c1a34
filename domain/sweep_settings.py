"""The settings of a sweep besides its space: method, direction, objective, how many trials."""

from __future__ import annotations

from enum import StrEnum

from domain.errors import InvalidValue
from domain.sweep_space import Dimension, grid_size

MAX_TRIALS = 10_000
# The metric names of a result summary (API.md's names; adapters/freqtrade/results.py reads
# each from freqtrade's own key, and a unit test keeps the two lists equal).
OBJECTIVES = (
    "total_trades",
    "profit_total",
    "profit_total_abs",
    "max_drawdown",
    "max_drawdown_abs",
    "sharpe",
    "sortino",
    "calmar",
    "winrate",
    "profit_factor",
    "starting_balance",
    "final_balance",
    "profit_mean",
    "cagr",
    "expectancy",
    "trades_per_day",
)


class Method(StrEnum):
    GRID = "grid"
    RANDOM = "random"
    TPE = "tpe"


class Direction(StrEnum):
    MAXIMIZE = "maximize"
    MINIMIZE = "minimize"


def plan_trials(
    dimensions: tuple[Dimension, ...],
    method: str,
    max_trials: int,
    objective: str,
    direction: str,
) -> int:
    """How many trials a sweep runs: `max_trials`, capped by the grid's size for a grid;
    InvalidValue naming the field when a setting is not one the sweep can run."""
    if method not in Method.__members__.values():
        raise InvalidValue("method", f"{method!r}: one of grid, random, tpe")
    if direction not in Direction.__members__.values():
        raise InvalidValue("direction", f"{direction!r}: maximize or minimize")
    if objective not in OBJECTIVES:
        raise InvalidValue(
            "objective", f"{objective!r} is no result metric: {', '.join(OBJECTIVES)}"
        )
    if isinstance(max_trials, bool) or not isinstance(max_trials, int):
        raise InvalidValue("max_trials", f"an integer is expected, got {max_trials!r}")
    if not 1 <= max_trials <= MAX_TRIALS:
        raise InvalidValue("max_trials", f"between 1 and {MAX_TRIALS}, got {max_trials}")
    if method != Method.GRID:
        return max_trials
    size = grid_size(dimensions)
    if size is None:
        continuous = next(d.name for d in dimensions if d.size is None)
        raise InvalidValue(f"space.{continuous}", "a grid needs a step or a list of values")
    return min(max_trials, size)
