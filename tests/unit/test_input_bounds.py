"""Bounded input: flat `parameters`, JSON depth, strategy code the parser can take cheaply."""

from __future__ import annotations

import time
from typing import Any

import pytest

from commands.messages import RegisterStrategyVersion, SubmitBacktest, SubmitSweep
from domain.errors import InvalidValue
from domain.parameter_bounds import NOT_SHOWN, check_parameters, shown_parameters
from domain.strategy_source import read_strategy
from projections.json_depth import too_deep
from tests.support.strategies import minimal


@pytest.mark.parametrize(
    ("parameters", "field"),
    [
        ({"x": {"y": 1}}, "parameters.x"),
        ({"x": [[1]]}, "parameters.x"),
        ({"x": [{"y": 1}]}, "parameters.x"),
        ({"x": "s" * 1001}, "parameters.x"),
        ({"x": ["s" * 1001]}, "parameters.x"),
        ({"x": list(range(65))}, "parameters.x"),
        ({f"p{i}": 1 for i in range(65)}, "parameters"),
        ({"n" * 65: 1}, "parameters"),
        ({"": 1}, "parameters"),
    ],
)
def test_parameters_beyond_the_bounds_are_refused_naming_the_field(
    parameters: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidValue) as refused:
        check_parameters("parameters", parameters)
    assert refused.value.field == field


def test_parameters_at_the_bounds_pass() -> None:
    at_bounds: dict[str, Any] = {f"p{i}": i for i in range(59)}
    at_bounds |= {"s": "s" * 1000, "l": ["x"] * 64, "n": None, "b": True, "f": 0.5}
    check_parameters("parameters", at_bounds)


def test_commands_check_their_parameters_and_space() -> None:
    with pytest.raises(InvalidValue, match=r"parameters\.x"):
        RegisterStrategyVersion(name="S", code="x", parameters={"x": {"deep": 1}})
    with pytest.raises(InvalidValue, match=r"parameters\.x"):
        SubmitBacktest(
            strategy="S", pairs=("BTC/USDT",), timeframe="5m", timerange="20240101-20240201",
            parameters={"x": "s" * 1001},
        )  # fmt: skip
    settings: dict[str, Any] = {
        "strategy": "S", "pairs": ("BTC/USDT",), "timeframe": "5m",
        "timerange": "20240101-20240201", "objective": "sharpe",
    }  # fmt: skip
    with pytest.raises(InvalidValue, match=r"space\.x"):
        SubmitSweep(**settings, space={"x": ["s" * 1001]})
    grid = SubmitSweep(**settings, space={"x": list(range(1000)), "y": {"low": 1, "high": 2}})
    assert len(grid.space["x"]) == 1000, "a grid may list more values than a parameter list"


def test_old_deep_values_are_not_shown_by_views() -> None:
    deep: Any = 1
    for _ in range(5000):
        deep = [deep]
    shown = shown_parameters({"x": deep, "flat": 1, "some": {"a": [1, 2]}})
    assert shown == {"x": NOT_SHOWN, "flat": 1, "some": {"a": [1, 2]}}


@pytest.mark.parametrize(
    ("document", "deep"),
    [
        (b"[" * 32 + b"]" * 32, False),
        (b"[" * 33 + b"]" * 33, True),
        (b'{"a":' * 33 + b"1" + b"}" * 33, True),
        (b"[" * 100_000 + b"]" * 100_000, True),
        (b'{"s": "' + b"[" * 5000 + b'"}', False),  # brackets in a string do not count
        (b'{"s": "\\"' + b"[" * 50 + b'"}', False),  # nor after an escaped quote
        ("[" * 40, True),  # WebSocket messages are text
        (b"[1, 2, 3]" * 1000, False),
    ],
)
def test_json_depth(document: bytes | str, deep: bool) -> None:
    assert too_deep(document) is deep


def test_a_megabyte_of_brackets_is_measured_quickly() -> None:
    # CPU time of this process, not wall time: other tests share the machine. The bound is far
    # above the ~40 ms it takes, and far below what a scan gone quadratic would take.
    started = time.process_time()
    assert too_deep(b"[" * 1_048_576)
    assert time.process_time() - started < 2


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("(" * 100_000, "too many nested parentheses"),
        ("x = " + "-" * 100_000 + "1", "nested too deeply for the parser"),
        ("x = " + "1 + " * 60_000 + "1", "nested too deeply for the parser"),
        ("x = a" + "[0]" * 60_000, "nested too deeply for the parser"),
        ("x = " + "-" * 150 + "1", "nested more than 100 levels"),
        ("x = 1\n" * 10_001, "at most 10000"),
        ("x = [" + "1," * 100_001 + "]", "syntax nodes"),
    ],
)
def test_pathological_code_is_refused_quickly(code: str, message: str) -> None:
    started = time.process_time()  # CPU, not wall time (see above); about 1 s at worst
    with pytest.raises(InvalidValue, match=message) as refused:
        read_strategy(code, "Anything")
    assert refused.value.field == "code"
    assert time.process_time() - started < 10


def test_ordinary_code_still_parses() -> None:
    assert read_strategy(minimal("Plain"), "Plain") == ()
