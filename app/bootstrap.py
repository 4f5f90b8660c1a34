"""The one place the system is assembled: settings in, connected parts out; nothing on import."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from adapters.event_store import open_event_store
from adapters.sql_read_store import SqlReadStore, create_engine
from app.secrets import jwt_secret
from app.settings import Settings
from commands.backtests import BacktestCommands
from commands.idempotency import Outcome
from commands.store import EventStore
from commands.strategies import StrategyCommands
from projections.read_model import ReadModelProjector
from projections.runner import SubscriberRunner

log = logging.getLogger(__name__)


@dataclass
class Container:
    """The assembled service: stores, command handlers, subscribers."""

    settings: Settings
    store: EventStore
    read_store: SqlReadStore
    backtests: BacktestCommands
    strategies: StrategyCommands
    read_model: SubscriberRunner
    jwt_secret: str
    subscribers: list[SubscriberRunner] = field(default_factory=list)

    def start(self) -> None:
        self.read_store.create()
        for runner in self.subscribers:
            self.store.on_commit(runner.wake)
            runner.start()

    def stop(self) -> None:
        for runner in self.subscribers:
            runner.stop()
        self.store.close()
        self.read_store.engine.dispose()

    def settle(self, outcome: Outcome) -> None:
        """Wait (bounded) until the read model shows a command's effect: read-your-writes."""
        if not self.read_model.wait_for(outcome.position, self.settings.read_your_writes_timeout):
            log.warning("read model lags behind position %s", outcome.position)


def bootstrap(settings: Settings) -> Container:
    """Connect every part named by the settings; call start() to run the subscribers."""
    store = open_event_store(settings.resolved_event_store_url)
    read_store = SqlReadStore(create_engine(settings.resolved_read_model_url))
    read_model = SubscriberRunner(
        ReadModelProjector(read_store),
        store,
        batch_size=settings.projection_batch_size,
        poll_interval=settings.subscriber_poll_interval,
    )
    return Container(
        settings=settings,
        store=store,
        read_store=read_store,
        backtests=BacktestCommands(store),
        strategies=StrategyCommands(store),
        read_model=read_model,
        jwt_secret=jwt_secret(settings),
        subscribers=[read_model],
    )
