"""Events survive the msgspec mapper with their types intact, and old shapes are upcast."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

import msgspec
import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import JSONTranscoder, MapperDeserialisationError, StoredEvent

from adapters.msgspec_mapper import MsgspecMapper
from domain.strategy import Strategy
from domain.strategy_version import StrategyVersion
from tests.factories import LEASE, STRATEGY_CODE, new_job


@pytest.fixture
def mapper() -> MsgspecMapper:
    return MsgspecMapper(transcoder=JSONTranscoder())


def _round_trip(mapper: MsgspecMapper, events: list[Any]) -> list[Any]:
    return [mapper.to_domain_event(mapper.to_stored_event(e)) for e in events]


def test_every_job_event_round_trips_with_types(mapper: MsgspecMapper) -> None:
    job = new_job(stake_amount=100.0, fee=0.001)
    job.start(attempt=1, worker="w1", lease_expires_at=LEASE)
    job.report_progress("backtest", 0.5)
    job.complete({"total_trades": 3, "profit_total": -0.02, "sharpe": None})
    events = job.collect_events()
    decoded = _round_trip(mapper, events)
    for original, copy in zip(events, decoded, strict=True):
        assert type(copy) is type(original)
        assert vars(copy) == vars(original)
    submitted = decoded[0]
    assert isinstance(submitted.originator_id, UUID)
    assert isinstance(submitted.timestamp, datetime) and submitted.timestamp.tzinfo is not None
    assert submitted.pairs == ("BTC/USDT", "ETH/USDT")
    assert decoded[3].summary["total_trades"] == 3


def test_catalog_events_round_trip(mapper: MsgspecMapper) -> None:
    strategy = Strategy(name="EmaCross", created_by="alice")
    version = StrategyVersion.register(
        "EmaCross", 1, STRATEGY_CODE, {"fast": 12, "slow": [1, 2]}, "", "a"
    )
    strategy.add_version(1, version.id, version.code_sha256)
    events = [*strategy.collect_events(), *version.collect_events()]
    for original, copy in zip(events, _round_trip(mapper, events), strict=True):
        assert vars(copy) == vars(original)


def test_rebuilding_an_aggregate_from_decoded_events(mapper: MsgspecMapper) -> None:
    job = new_job()
    job.start(attempt=1, worker="w1", lease_expires_at=LEASE)
    decoded = _round_trip(mapper, job.collect_events())
    rebuilt = None
    for e in decoded:
        rebuilt = e.mutate(rebuilt)
    assert rebuilt is not None
    assert rebuilt.status == job.status and rebuilt.pairs == job.pairs and rebuilt.version == 2


class Account(Aggregate):
    """A test aggregate whose event gained a field in version 2."""

    class Opened(Aggregate.Created):
        owner: str
        currency: str
        class_version: ClassVar[int] = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["currency"] = "USDT"

    @event(Opened)
    def __init__(self, owner: str, currency: str) -> None:
        self.owner = owner
        self.currency = currency


def test_an_old_event_shape_is_upcast(mapper: MsgspecMapper) -> None:
    current = mapper.to_stored_event(Account(owner="a", currency="EUR").collect_events()[0])
    state = msgspec.json.decode(current.state)
    assert state.pop("class_version") == 2
    del state["currency"]
    old = StoredEvent(
        originator_id=current.originator_id,
        originator_version=1,
        topic=current.topic,
        state=msgspec.json.encode(state),
    )
    decoded: Any = mapper.to_domain_event(old)
    assert decoded.currency == "USDT" and decoded.owner == "a"


def test_a_corrupt_event_is_reported_not_guessed(mapper: MsgspecMapper) -> None:
    stored = mapper.to_stored_event(new_job().collect_events()[0])
    broken = StoredEvent(stored.originator_id, 1, stored.topic, b'{"strategy": 5}')
    with pytest.raises(MapperDeserialisationError, match="cannot decode"):
        mapper.to_domain_event(broken)
