"""The search space of a parameter sweep, checked against a strategy's declared parameters, and
the two samplers that need nothing but the space: grid and seeded random."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from domain.errors import InvalidValue
from domain.strategy_source import ParameterSpec, Scalar, check_parameter_values

RANGE_KEYS = frozenset({"low", "high", "step"})


@dataclass(frozen=True)
class Dimension:
    """One swept parameter: a list of `values`, or a range `low`..`high` (by `step`; a decimal
    range without a step is continuous, rounded to the parameter's `decimals`)."""

    name: str
    kind: str  # the declared kind: int, decimal, categorical, boolean
    values: tuple[Scalar, ...] | None = None
    low: int | float | None = None
    high: int | float | None = None
    step: int | float | None = None
    decimals: int | None = None

    @property
    def size(self) -> int | None:
        """How many values the dimension holds; None for a continuous range."""
        if self.values is not None:
            return len(self.values)
        if self.step is None:
            return None
        assert self.low is not None and self.high is not None
        return math.floor((self.high - self.low) / self.step + 1e-9) + 1

    def value_at(self, index: int) -> Scalar:
        """The `index`-th value (0-based) of a finite dimension."""
        if self.values is not None:
            return self.values[index]
        assert self.low is not None and self.step is not None
        return self._exact(self.low + index * self.step)

    def draw(self, rng: random.Random) -> Scalar:
        """A uniformly drawn value."""
        size = self.size
        if size is not None:
            return self.value_at(rng.randrange(size))
        assert self.low is not None and self.high is not None
        return self._exact(rng.uniform(self.low, self.high))

    def contains(self, value: Any) -> bool:
        """True when `value` is one the dimension can produce (type included)."""
        if self.values is not None:
            return any(type(v) is type(value) and v == value for v in self.values)
        assert self.low is not None and self.high is not None
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.kind == "int" and not isinstance(value, int):
            return False
        if not self.low <= value <= self.high:
            return False
        if self.step is None:
            return self.decimals is None or round(float(value), self.decimals) == value
        steps = (value - self.low) / self.step
        return abs(steps - round(steps)) < 1e-6

    def _exact(self, value: float) -> Scalar:
        if self.kind == "int":
            return round(value)
        return round(float(value), self.decimals if self.decimals is not None else 12)


def parse_space(
    space: Mapping[str, Any], declared: Iterable[ParameterSpec], owner: str
) -> tuple[Dimension, ...]:
    """The dimensions of `space` (parameter name -> list of values or {"low", "high", "step"}),
    in name order; InvalidValue on `space.<name>` for a name `owner` does not declare, a
    value outside its declared range or choices, or a range a parameter cannot take."""
    if not space:
        raise InvalidValue("space", "name at least one parameter to sweep")
    by_name = {spec.name: spec for spec in declared}
    return tuple(_dimension(name, space[name], by_name, owner) for name in sorted(space))


def _dimension(
    name: str, given: Any, declared: Mapping[str, ParameterSpec], owner: str
) -> Dimension:
    field = f"space.{name}"
    spec = declared.get(name)
    if spec is None:
        known = ", ".join(declared) or "none"
        raise InvalidValue(field, f"{owner} declares no parameter {name!r} (it has: {known})")

    def check(value: Any) -> None:
        try:
            check_parameter_values([spec], {name: value}, owner)
        except InvalidValue as error:
            raise InvalidValue(field, error.message) from None

    if isinstance(given, list | tuple):
        if not given:
            raise InvalidValue(field, "a list of values needs at least one value")
        for value in given:
            check(value)
        if len({repr(v) for v in given}) != len(given):
            raise InvalidValue(field, "a value is listed twice")
        return Dimension(name, spec.kind, values=tuple(given), decimals=spec.decimals)
    if not isinstance(given, Mapping):
        raise InvalidValue(field, 'give a list of values or {"low": .., "high": .., "step": ..}')
    if spec.kind not in ("int", "decimal"):
        raise InvalidValue(field, f"a {spec.kind} parameter takes a list of values, not a range")
    unknown = set(given) - RANGE_KEYS
    if unknown or "low" not in given or "high" not in given:
        raise InvalidValue(field, 'a range is {"low": .., "high": ..} with an optional "step"')
    low, high = given["low"], given["high"]
    check(low)
    check(high)
    if low > high:
        raise InvalidValue(field, f"low {low} is above high {high}")
    step = given.get("step")
    if step is None and spec.kind == "int":
        step = 1
    if step is not None:
        is_int = isinstance(step, int) and not isinstance(step, bool)
        if (spec.kind == "int" and not is_int) or isinstance(step, bool):
            raise InvalidValue(field, f"the step of an integer range is an integer, got {step!r}")
        if not isinstance(step, int | float) or not math.isfinite(step) or step <= 0:
            raise InvalidValue(field, f"the step must be a number above 0, got {step!r}")
        if spec.decimals is not None and round(float(step), spec.decimals) != step:
            raise InvalidValue(field, f"the step {step!r} has more than {spec.decimals} decimals")
    return Dimension(name, spec.kind, low=low, high=high, step=step, decimals=spec.decimals)


def grid_size(dimensions: Iterable[Dimension]) -> int | None:
    """How many points the grid of `dimensions` holds; None when one is continuous."""
    total = 1
    for dimension in dimensions:
        size = dimension.size
        if size is None:
            return None
        total *= size
    return total


def grid_point(dimensions: tuple[Dimension, ...], number: int) -> dict[str, Scalar]:
    """Trial `number` of the grid: the combinations in name order, the last name varying
    fastest (as itertools.product), computed directly from `number`."""
    point: dict[str, Scalar] = {}
    rest = number
    for dimension in reversed(dimensions):
        size = dimension.size
        if size is None:
            raise InvalidValue(dimension.name, "a grid needs a step or a list of values")
        rest, index = divmod(rest, size)
        point[dimension.name] = dimension.value_at(index)
    if rest:
        raise InvalidValue("number", f"the grid has no point {number}")
    return {d.name: point[d.name] for d in dimensions}


def random_point(dimensions: tuple[Dimension, ...], seed: int, number: int) -> dict[str, Scalar]:
    """Trial `number` of a random sweep: a pure function of the seed and the number (a string
    seed is hashed with SHA-512 by `random`, the same on every machine and Python build)."""
    rng = random.Random(f"tradai-sweep:{seed}:{number}")
    return {d.name: d.draw(rng) for d in dimensions}
