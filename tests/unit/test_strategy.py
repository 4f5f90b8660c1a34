"""Strategy catalog entries and versions: numbering, names, code addressing."""

from __future__ import annotations

import hashlib
from uuid import uuid4

import pytest

from domain.errors import InvalidValue
from domain.identity import strategy_id, strategy_version_id
from domain.strategy import Strategy
from domain.strategy_version import MAX_CODE_BYTES, Stage, StrategyVersion
from tests.factories import STRATEGY_CODE


def test_versions_are_numbered_densely_from_one() -> None:
    strategy = Strategy(name="EmaCross", created_by="alice")
    assert strategy.next_version == 1
    strategy.add_version(1, uuid4(), "a" * 64)
    strategy.add_version(2, uuid4(), "b" * 64)
    assert strategy.latest_version == 2
    with pytest.raises(InvalidValue, match="expected version 3"):
        strategy.add_version(5, uuid4(), "c" * 64)


def test_ids_derive_from_names() -> None:
    assert Strategy(name="EmaCross", created_by="a").id == strategy_id("EmaCross")
    version = StrategyVersion.register("EmaCross", 2, STRATEGY_CODE, {}, "", "alice")
    assert version.id == strategy_version_id("EmaCross", 2)
    assert strategy_version_id("EmaCross", 1) != strategy_version_id("EmaCross", 2)


def test_registration_addresses_the_code_by_its_hash() -> None:
    version = StrategyVersion.register("EmaCross", 1, STRATEGY_CODE, {"fast": 12}, "first", "alice")
    assert version.code_sha256 == hashlib.sha256(STRATEGY_CODE.encode()).hexdigest()
    assert version.stage is Stage.REGISTERED
    assert version.number == 1
    assert version.version == 1  # the aggregate's own event count, not the version number
    assert version.parameters == {"fast": 12}
    assert [type(e).__name__ for e in version.collect_events()] == ["Registered"]


@pytest.mark.parametrize("name", ["", "1abc", "ema-cross", "a b", "x" * 65, "Ema.Cross"])
def test_names_must_be_python_class_names(name: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        Strategy(name=name, created_by="alice")
    assert caught.value.field == "name"


def test_empty_or_oversized_code_is_refused() -> None:
    with pytest.raises(InvalidValue, match="empty"):
        StrategyVersion.register("EmaCross", 1, "   \n", {}, "", "alice")
    with pytest.raises(InvalidValue, match="over"):
        StrategyVersion.register("EmaCross", 1, "#" * (MAX_CODE_BYTES + 1), {}, "", "alice")


def test_version_numbers_start_at_one() -> None:
    with pytest.raises(InvalidValue):
        StrategyVersion.register("EmaCross", 0, STRATEGY_CODE, {}, "", "alice")
