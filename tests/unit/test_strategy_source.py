"""Reading a strategy's source without running it: the class, and its parameters."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.msgspec_mapper import MsgspecMapper
from domain.errors import InvalidValue
from domain.strategy_source import ParameterSpec, parameter_file, read_strategy
from domain.strategy_version import StrategyVersion
from tests.factories import STRATEGY_CODE, new_job


def _source(body: str, name: str = "Cross", base: str = "IStrategy") -> str:
    lines = "\n".join(f"    {line}" for line in body.strip().splitlines()) or "    pass"
    return (
        "from freqtrade.strategy import *\nimport freqtrade.strategy\n\n\n"
        f"class {name}({base}):\n{lines}\n"
    )


def _one(line: str) -> ParameterSpec:
    (spec,) = read_strategy(_source(line), "Cross")
    return spec


def test_every_kind_positional_and_keyword() -> None:
    code = _source(
        """
fast = IntParameter(5, 30, default=12, space="buy")
slow = IntParameter(low=20, high=100, default=48, space="buy")
span = IntParameter((1, 9), default=3, space="sell")
margin = DecimalParameter(0.0, 0.05, decimals=2, default=0.011, space="buy")
ratio = freqtrade.strategy.DecimalParameter([0.1, 0.9], default=0.5, space="buy")
mode = CategoricalParameter(["ema", "sma", 3], default="sma", space="buy")
buy_flag = BooleanParameter(default=False)
sell_ratio: DecimalParameter = DecimalParameter(-1, 1, default=0)
not_a_parameter = 5
"""
    )
    specs = {s.name: s for s in read_strategy(code, "Cross")}
    assert specs["fast"] == ParameterSpec("fast", "int", "buy", 12, low=5, high=30)
    assert specs["slow"] == ParameterSpec("slow", "int", "buy", 48, low=20, high=100)
    assert specs["span"] == ParameterSpec("span", "int", "sell", 3, low=1, high=9)
    assert specs["margin"] == ParameterSpec(
        "margin", "decimal", "buy", 0.01, low=0.0, high=0.05, decimals=2
    )
    assert specs["ratio"].decimals == 3 and (specs["ratio"].low, specs["ratio"].high) == (0.1, 0.9)
    assert specs["mode"] == ParameterSpec(
        "mode", "categorical", "buy", "sma", choices=("ema", "sma", 3)
    )
    assert specs["buy_flag"] == ParameterSpec(
        "buy_flag", "boolean", "buy", False, choices=(True, False)
    )
    assert specs["sell_ratio"].space == "sell"  # from the name, as freqtrade does
    assert list(specs) == ["fast", "slow", "span", "margin", "ratio", "mode", "buy_flag",
                           "sell_ratio"]  # fmt: skip


def test_records_round_trip() -> None:
    spec = _one('mode = CategoricalParameter(["a", "b"], default="a", space="buy")')
    assert ParameterSpec.from_dict(spec.as_dict()) == spec


@pytest.mark.parametrize(
    "base", ["IStrategy", "freqtrade.strategy.IStrategy", "strategy.IStrategy"]
)
def test_the_class_derives_from_istrategy_by_name_or_attribute(base: str) -> None:
    assert read_strategy(_source("x = 1", base=base), "Cross") == ()


def test_a_base_class_of_the_same_module_counts_and_lends_its_parameters() -> None:
    code = (
        "class Base(IStrategy):\n    fast = IntParameter(1, 5, default=2, space='buy')\n\n"
        "class Cross(Base):\n    slow = IntParameter(1, 5, default=3, space='buy')\n"
    )
    assert [s.name for s in read_strategy(code, "Cross")] == ["fast", "slow"]


def test_a_syntax_error_names_its_line() -> None:
    with pytest.raises(InvalidValue) as caught:
        read_strategy("import os\n\nclass Cross(IStrategy:\n    pass\n", "Cross")
    assert caught.value.field == "code"
    assert "line 3" in caught.value.message


def test_the_class_must_be_named_like_the_strategy() -> None:
    with pytest.raises(InvalidValue, match="no top-level class named Foo") as caught:
        read_strategy("class Bar(IStrategy):\n    pass\n", "Foo")
    assert caught.value.field == "code"


@pytest.mark.parametrize("base", ["", "object", "Strategy", "IStrategy.Other"])
def test_the_class_must_derive_from_istrategy(base: str) -> None:
    code = f"class Foo({base}):\n    pass\n" if base else "class Foo:\n    pass\n"
    with pytest.raises(InvalidValue, match="line 1: class Foo does not derive from IStrategy"):
        read_strategy(code, "Foo")


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ("fast = IntParameter(5, LIMIT, default=12, space='buy')", "high must be a literal"),
        ("fast = IntParameter(5, 30, default=int('1'), space='buy')", "default must be a literal"),
        ("fast = IntParameter(5, 30, default=12, space=SPACE)", "space must be a literal"),
        ("fast = IntParameter(*RANGE, default=12, space='buy')", "cannot be read"),
        ("fast = IntParameter(5, 30, 12, space='buy')", "positional"),
        ("fast = IntParameter(5, 30, space='buy')", "default= is required"),
        ("fast = IntParameter(5.5, 30, default=12, space='buy')", "int numbers"),
        ("fast = IntParameter(30, 5, default=12, space='buy')", "above high"),
        ("fast = IntParameter(5, 30, default=12)", "give it a space"),
        ("fast = IntParameter(5, 30, default=12, space='all')", "give it a space"),
        ("mode = CategoricalParameter(['a'], default='a', space='buy')", "at least two"),
        ("mode = CategoricalParameter(['a', 'b'], default='c', space='buy')", "one of the"),
        ("flag = BooleanParameter(default=1, space='buy')", "True/False"),
        ("ratio = DecimalParameter(0, 1, default=0.5, decimals=-1, space='buy')", "decimals"),
    ],
)
def test_parameters_must_be_literal_and_sound(line: str, complaint: str) -> None:
    with pytest.raises(InvalidValue, match=complaint) as caught:
        read_strategy(_source(line), "Cross")
    assert caught.value.field == "code"
    assert caught.value.message.startswith("line 6: parameter ")


def _version(body: str) -> StrategyVersion:
    return StrategyVersion.register("Cross", 1, _source(body), {}, "", "alice")


PARAMETERS = """
fast = IntParameter(5, 30, default=12, space="buy")
margin = DecimalParameter(0, 0.05, decimals=3, default=0, space="buy")
mode = CategoricalParameter(["ema", "sma"], default="ema", space="sell")
flag = BooleanParameter(default=True, space="buy")
"""


@pytest.mark.parametrize(
    ("values", "field", "complaint"),
    [
        ({"slow": 3}, "parameters.slow", "declares no parameter 'slow'"),
        ({"fast": 31}, "parameters.fast", "outside 5..30"),
        ({"fast": 12.0}, "parameters.fast", "an integer is expected"),
        ({"fast": True}, "parameters.fast", "an integer is expected"),
        ({"margin": "0.01"}, "parameters.margin", "a number is expected"),
        ({"margin": 0.06}, "parameters.margin", "outside"),
        ({"margin": 0.0105}, "parameters.margin", "more than 3 decimals"),
        ({"mode": "wma"}, "parameters.mode", "not one of"),
        ({"flag": 1}, "parameters.flag", "true or false"),
    ],
)
def test_submitted_values_are_checked(values: dict[str, Any], field: str, complaint: str) -> None:
    version = _version(PARAMETERS)
    with pytest.raises(InvalidValue, match=complaint) as caught:
        version.check_parameters(values)
    assert caught.value.field == field


def test_values_in_range_pass_and_make_freqtrades_parameter_file() -> None:
    version = _version(PARAMETERS)
    values = {"fast": 5, "margin": 0.05, "mode": "sma", "flag": False}
    version.check_parameters(values)
    assert parameter_file("Cross", version.declared, values) == {
        "strategy_name": "Cross",
        "params": {"buy": {"fast": 5, "margin": 0.05, "flag": False}, "sell": {"mode": "sma"}},
    }


def test_registration_refuses_what_it_cannot_read() -> None:
    with pytest.raises(InvalidValue, match="no top-level class named EmaCross"):
        StrategyVersion.register("EmaCross", 1, "x = 1", {}, "", "alice")
    version = StrategyVersion.register("EmaCross", 1, STRATEGY_CODE, {}, "", "alice")
    assert version.declared == ()


def _stored_v1(mapper: MsgspecMapper, event: Any, drop: tuple[str, ...]) -> Any:
    """`event` as version 1 of its class stored it: without the fields version 2 added."""
    import msgspec

    stored = mapper.to_stored_event(event)
    state = msgspec.json.decode(stored.state)
    for name in (*drop, "class_version"):
        state.pop(name)
    old = type(stored)(stored.originator_id, stored.originator_version, stored.topic,
                       msgspec.json.encode(state))  # fmt: skip
    return mapper.to_domain_event(old)


def test_events_stored_before_version_2_are_upcast() -> None:
    from eventsourcing.persistence import JSONTranscoder

    mapper = MsgspecMapper(transcoder=JSONTranscoder())
    (submitted,) = new_job(parameters={"fast": 5}, priority="high").collect_events()
    old = _stored_v1(mapper, submitted, ("parameters", "priority", "sweep_id"))
    assert (old.parameters, old.priority, old.sweep_id) == ({}, "normal", None)
    assert old.mutate(None).priority == "normal"
    (registered,) = _version(PARAMETERS).collect_events()
    old = _stored_v1(mapper, registered, ("declared",))
    assert old.declared == [] and old.mutate(None).declared == ()
