"""The one place the system is assembled: settings in, connected parts out; nothing on import."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from uuid import UUID

import anyio

from adapters.event_store import open_event_store
from adapters.market_data import MarketData
from adapters.optuna_sampler import OptunaTpeSampler
from adapters.sql_engine import create_engine
from adapters.sql_read_store import SqlReadStore
from app.batcher import CommandBatcher
from app.secrets import jwt_secret
from app.settings import Settings
from app.storage import open_artifact_store, open_market_data
from commands.backtests import BacktestCommands
from commands.execution import ExecutionCommands
from commands.idempotency import Outcome
from commands.promotion_views import PromotionView
from commands.promotions import PromotionCommands
from commands.store import EventStore
from commands.strategies import StrategyCommands
from commands.sweeps import SweepCommands
from domain.promotion import GateThresholds
from projections.execution_ports import WorkerPool
from projections.executor import CancelWatcher, Executor
from projections.live import Hub, LiveFeed
from projections.ports import ArtifactStore, ReadModelQueries
from projections.queue_executor import QueueExecutor
from projections.read_model import ReadModelProjector
from projections.runner import SubscriberRunner
from projections.sweeps import SweepCoordinator
from projections.waiting_work import WaitingWork

if TYPE_CHECKING:
    from adapters.kafka.producer import KafkaConfig

log = logging.getLogger(__name__)
T = TypeVar("T")
DYNAMODB_PROJECTION = "dynamodb_read_model"


class QueryStore(ReadModelQueries, Protocol):
    """The read model that answers the query endpoints: SQL, or DynamoDB."""

    @property
    def inline_reads(self) -> bool: ...

    def create(self) -> None: ...

    def ping(self) -> None: ...

    def job_document(self, job_id: str) -> bytes | None: ...

    def load_promotions(self, ids: Collection[UUID]) -> dict[UUID, PromotionView]: ...


class JobExecutor(Protocol):
    """What the container does with either executor: keep leases, and stop it."""

    def keep_leases(self, read_model: ReadModelQueries) -> None: ...

    def stop(self) -> None: ...


@dataclass(repr=False)
class Container:
    """The assembled service: stores, command handlers, subscribers, the executor."""

    settings: Settings
    store: EventStore
    read_store: QueryStore  # answers the queries (BACKEND_QUERY_STORE)
    sql_store: SqlReadStore  # the SQL read model; also keeps the executor's and relay's positions
    artifacts: ArtifactStore  # a local directory, or S3 (BACKEND_ARTIFACTS_URL)
    market_data: MarketData  # a local directory, or S3 through a local cache
    backtests: BacktestCommands
    strategies: StrategyCommands
    promotions: PromotionCommands
    sweeps: SweepCommands
    read_model: SubscriberRunner
    jwt_secret: str
    subscribers: list[SubscriberRunner] = field(default_factory=list)
    live_feed: SubscriberRunner | None = None
    executor: JobExecutor | None = None  # `local`/`memory`: Executor; `sqs`: QueueExecutor
    hub: Hub | None = None
    pool: WorkerPool | None = None
    batcher: CommandBatcher | None = None
    sandbox: str | None = None  # how strategy runs are contained, for /ready and the log
    relay: SubscriberRunner | None = None  # the Kafka relay, when Kafka is configured
    waiting_work: SubscriberRunner | None = None  # each user's unfinished work, for the quota
    also_kept: list[Any] = field(default_factory=list)  # read stores kept besides the query one
    # A PostgresCommitWatcher with PostgreSQL (commits of other replicas wake the subscribers);
    # typed loosely: Litestar resolves these annotations at run time, psycopg stays unimported.
    commit_watcher: Any = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __repr__(self) -> str:
        """Short and without secrets (the JWT secret is never shown; settings redact theirs):
        a traceback's rendering of a frame holding the container once printed them."""
        return f"Container(settings={self.settings!r}, sandbox={self.sandbox!r})"

    async def bind_loop(self) -> None:
        """Live streams deliver on the server's event loop; learn it once the server runs."""
        if self.hub is not None:
            self.hub.bind(asyncio.get_running_loop())

    def start(self) -> None:
        self.sql_store.create()
        self.read_store.create()  # the same store twice is harmless: create is idempotent
        for kept in self.also_kept:  # DynamoDB kept next to the SQL store answering queries
            kept.create()
        if self.pool is not None:
            self.pool.start()
        if self.waiting_work is not None:  # the quota holds from the first request on
            while self.waiting_work.run_once():
                pass
        for runner in self.subscribers:
            self.store.on_commit(runner.wake)
            runner.start()
        self.batcher = CommandBatcher(
            self.store,
            self.read_model,
            self.settings.read_your_writes_timeout,
            also_offer_to=[r for r in (self.live_feed, self.waiting_work) if r is not None],
        )
        self.batcher.start()
        if self.settings.resolved_event_store_url.startswith(("postgresql://", "postgres://")):
            self.commit_watcher = self._watch_other_replicas()
        if self.executor is not None:
            thread = threading.Thread(target=self._keep_leases, name="lease-keeper", daemon=True)
            thread.start()
            self._threads.append(thread)
        if isinstance(self.executor, QueueExecutor) and self.executor.dead_letters is not None:
            wait = min(self.settings.sqs_wait_seconds, 5)  # a stop waits for one poll at most
            thread = threading.Thread(
                target=self.executor.follow_dead_letters,
                args=(wait,),
                name="dead-letters",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def _watch_other_replicas(self) -> Any:
        from adapters.postgres_wakeup import PostgresCommitWatcher

        recorder: Any = self.store.recorder
        store = self.store
        watcher = PostgresCommitWatcher(
            self.settings.resolved_event_store_url,
            recorder.channel_name,
            lambda: store.wake_listeners(store.max_position()),
        )
        watcher.start()
        return watcher

    def stop(self) -> None:
        self._stopping.set()
        if self.commit_watcher is not None:
            self.commit_watcher.stop()
        if self.batcher is not None:
            self.batcher.stop()  # queued commands are written before the subscribers stop
        if self.executor is not None:
            self.executor.stop()  # running jobs go back to the queue before the workers end
        for runner in reversed(self.subscribers):
            if runner is self.relay:
                runner.stop(timeout=2)  # it may be waiting on a broker that is down
                runner.subscriber.close()  # type: ignore[attr-defined]
            elif runner is not self.read_model:
                runner.stop()
        if self.pool is not None:
            self.pool.stop()
        self.read_model.stop()
        for thread in self._threads:
            thread.join(5)
        self.store.close()
        self.sql_store.engine.dispose()

    async def query(self, read: Callable[[], T]) -> T:
        """Run a read-model query from an async handler: inline where lookups take microseconds
        (local SQLite), on a worker thread where they wait on a network (PostgreSQL)."""
        if self.read_store.inline_reads:
            return read()
        return await anyio.to_thread.run_sync(read)

    def commands(self) -> CommandBatcher:
        """The group-commit batcher (it exists once the container has started)."""
        if self.batcher is None:
            raise RuntimeError("the container has not started")
        return self.batcher

    def settle(self, outcome: Outcome) -> None:
        """Wait (bounded) until the read model shows a command's effect: read-your-writes."""
        if not self.read_model.wait_for(outcome.position, self.settings.read_your_writes_timeout):
            log.warning("read model lags behind position %s", outcome.position)

    def find(self, lookup: Callable[[], T | None]) -> T | None:
        """`lookup()` in the read model; on a miss, once more after the read model caught up with
        the store (bounded). Another replica may have just committed what is asked for: its id
        must not be a 404 here because this replica's read model is milliseconds behind."""
        found = lookup()
        if found is None and self.read_model.wait_for(
            self.store.max_position(), self.settings.read_your_writes_timeout
        ):
            found = lookup()
        return found

    def _keep_leases(self) -> None:
        assert self.executor is not None
        interval = max(self.settings.lease_seconds / 3, 0.2)
        while not self._stopping.wait(interval):
            try:
                self.executor.keep_leases(self.sql_store)
            except Exception:
                log.exception("lease keeping failed; trying again in %.1f s", interval)


def _pool(settings: Settings, market_data: MarketData) -> WorkerPool | None:
    if settings.executor in ("off", "sqs"):  # sqs: the runs happen in `tradai worker`s
        return None
    if settings.executor == "memory":
        from adapters.memory_pool import MemoryWorkerPool

        return MemoryWorkerPool(settings.worker_count, settings.data_path / "work")
    from adapters.freqtrade.pool import LocalWorkerPool, RunLimits
    from adapters.freqtrade.sandbox import Sandbox

    # The sandbox binds the local directory the candles are read from (S3's cache, when the
    # data is in S3); the pool syncs the files each run needs into it before the run.
    sandbox = Sandbox.create(settings.sandbox, market_data.root)
    if not sandbox.sandboxed:
        log.warning("BACKEND_SANDBOX=none: %s", sandbox.describe())
    return LocalWorkerPool(
        settings.worker_count,
        settings.data_path / "work",
        market_data.root,
        market_data=market_data,
        sandbox=sandbox,
        offline_markets=settings.offline_markets,
        limits=RunLimits(
            settings.run_time_limit_seconds,
            settings.run_memory_limit_mb,
            max_trades=settings.run_max_trades,
        ),
        keep_workdirs=settings.keep_workdirs,
        candle_cache_mb=settings.candle_cache_mb,
    )


def queue_executor(settings: Settings, store: EventStore, positions: SqlReadStore) -> QueueExecutor:
    """The `sqs` executor: jobs to BACKEND_SQS_QUEUE_URL, dead letters from its DLQ."""
    from adapters.aws.sqs import SqsJobQueue

    jobs = SqsJobQueue(settings.sqs_queue_url)
    dead = settings.sqs_dead_letter_queue_url
    max_receives = None
    if dead:
        try:
            max_receives = jobs.max_receives()
        except Exception as error:  # the reason then counts the letter's own receives
            log.warning("cannot read the queue's redrive policy: %s", error)
    return QueueExecutor(
        store,
        ExecutionCommands(store),
        jobs,
        positions,
        dead_letters=SqsJobQueue(dead) if dead else None,
        max_receives=max_receives,
        window=settings.sqs_dispatch_window,
    )


def kafka_config(settings: Settings, servers: str = "") -> KafkaConfig:
    """The Kafka connection the settings describe (`servers` overrides the brokers)."""
    from adapters.kafka.producer import KafkaConfig

    return KafkaConfig(
        bootstrap_servers=servers or settings.kafka_bootstrap_servers,
        idempotent=settings.kafka_idempotent_producer,
        partitions=settings.kafka_topic_partitions,
        replication=settings.kafka_topic_replication,
        security_protocol=settings.kafka_security_protocol,
        sasl_mechanism=settings.kafka_sasl_mechanism,
        sasl_username=settings.kafka_sasl_username,
        sasl_password=settings.kafka_sasl_password,
    )


def kafka_relay(
    settings: Settings, store: EventStore, read_store: SqlReadStore
) -> SubscriberRunner:
    """The relay to Kafka (aiokafka is imported only here, only when Kafka is configured)."""
    from adapters.kafka.producer import KafkaPublisher
    from app.event_catalog import AGGREGATES
    from projections.kafka_relay import KafkaRelay, topic_slug

    prefix = settings.kafka_topic_prefix
    publisher = KafkaPublisher(
        kafka_config(settings),
        topics=[f"{prefix}.{topic_slug(a.__name__)}" for a in AGGREGATES],
    )
    return SubscriberRunner(
        KafkaRelay(publisher, read_store, prefix),
        store,
        batch_size=2000,
        poll_interval=settings.subscriber_poll_interval,
        max_backoff=5.0,  # a broker that is back gets the backlog within seconds
    )


def bootstrap(settings: Settings) -> Container:
    """Connect every part named by the settings; call start() to run the subscribers."""
    store = open_event_store(settings.resolved_event_store_url)
    sql_store = SqlReadStore(create_engine(settings.resolved_read_model_url))
    artifacts = open_artifact_store(settings)
    market_data = open_market_data(settings)
    sql_model = SubscriberRunner(
        ReadModelProjector(sql_store, artifacts=artifacts),
        store,
        batch_size=settings.projection_batch_size,
        poll_interval=settings.subscriber_poll_interval,
    )
    read_store: QueryStore = sql_store
    read_model, models = sql_model, [sql_model]
    also_kept: list[Any] = []
    if settings.dynamodb_table:
        # boto3 is imported only here, only when the DynamoDB read model is configured.
        from adapters.dynamodb.read_store import DynamoReadStore

        dynamo = DynamoReadStore(settings.dynamodb_table)
        dynamo_model = SubscriberRunner(
            ReadModelProjector(dynamo, name=DYNAMODB_PROJECTION, artifacts=artifacts),
            store,
            batch_size=settings.projection_batch_size,
            poll_interval=settings.subscriber_poll_interval,
        )
        models.append(dynamo_model)
        if settings.query_store == "dynamodb":  # read-your-writes waits for this one then
            read_store, read_model = dynamo, dynamo_model
        else:
            also_kept.append(dynamo)
    waiting = WaitingWork(settings.max_queued_per_user)
    container = Container(
        settings=settings,
        store=store,
        read_store=read_store,
        sql_store=sql_store,
        artifacts=artifacts,
        market_data=market_data,
        backtests=BacktestCommands(store, quota=waiting),
        # optuna is imported by the tpe sampler at its first ask, not here.
        sweeps=SweepCommands(store, tpe=OptunaTpeSampler(), quota=waiting),
        strategies=StrategyCommands(store),
        promotions=PromotionCommands(
            store,
            GateThresholds(
                min_trades=settings.gate_min_trades,
                max_drawdown=settings.gate_max_drawdown,
                min_profit=settings.gate_min_profit,
            ),
        ),
        read_model=read_model,
        also_kept=also_kept,
        jwt_secret=jwt_secret(settings),
        subscribers=[read_model, *(m for m in models if m is not read_model)],
        hub=Hub(store.max_position()),
    )
    assert container.hub is not None
    container.live_feed = SubscriberRunner(
        LiveFeed(container.hub),
        store,
        batch_size=200,
        poll_interval=settings.subscriber_poll_interval,
    )
    container.subscribers.append(container.live_feed)
    container.waiting_work = SubscriberRunner(
        waiting, store, batch_size=2000, poll_interval=settings.subscriber_poll_interval
    )
    container.subscribers.append(container.waiting_work)
    container.subscribers.append(
        SubscriberRunner(
            SweepCoordinator(container.sweeps, sql_store, in_flight=settings.sweep_in_flight),
            store,
            batch_size=100,
            poll_interval=settings.subscriber_poll_interval,
        )
    )
    pool = _pool(settings, market_data)
    container.sandbox = getattr(pool, "sandbox_description", None)
    if settings.kafka_bootstrap_servers:
        container.relay = kafka_relay(settings, store, sql_store)
        container.subscribers.append(container.relay)
    if settings.executor == "sqs":
        container.executor = queue_executor(settings, store, sql_store)
        container.subscribers.append(
            SubscriberRunner(
                container.executor,
                store,
                batch_size=50,
                poll_interval=settings.subscriber_poll_interval,
            )
        )
    if pool is not None:
        executor = Executor(
            store,
            ExecutionCommands(store),
            pool,
            artifacts,
            sql_store,
            worker_name=f"{socket.gethostname()}:{os.getpid()}",
            lease_seconds=settings.lease_seconds,
            max_attempts=settings.max_attempts,
        )
        dispatcher = SubscriberRunner(
            executor, store, batch_size=50, poll_interval=settings.subscriber_poll_interval
        )
        canceller = SubscriberRunner(
            CancelWatcher(pool, store.max_position()),
            store,
            poll_interval=settings.subscriber_poll_interval,
        )
        container.pool, container.executor = pool, executor
        container.subscribers += [canceller, dispatcher]
    return container
