"""The relay's publisher: aiokafka on an event loop of its own, called from the relay's thread.

`publish(batch)` returns only when the broker acknowledged every message (`acks=all`), and
raises otherwise; the relay records its position only after it returned. aiokafka keeps at most
one request in flight per partition, so a retried send cannot overtake a later one: one
aggregate's events (one key, one partition) stay in order. After any failure the producer is
dropped and built again on the next call, creating missing topics first (a broker that lost
its topics, or one that was never set up).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from projections.kafka_relay import OutgoingMessage

log = logging.getLogger(__name__)
_TOPIC_EXISTS = TopicAlreadyExistsError.errno


class PublishFailed(RuntimeError):
    """The broker did not acknowledge the whole batch; nothing may be recorded as sent."""


@dataclass(frozen=True)
class KafkaConfig:
    bootstrap_servers: str
    idempotent: bool = True
    partitions: int = 4
    replication: int = 1
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = ""
    sasl_username: str = ""
    sasl_password: str = ""
    request_timeout_ms: int = 10_000

    def client_options(self) -> dict[str, Any]:
        """Connection options shared by the producer, the admin client and consumers."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers.split(","),
            "security_protocol": self.security_protocol,
            "request_timeout_ms": self.request_timeout_ms,
        }
        if self.sasl_mechanism:
            options |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": self.sasl_password,
            }
        if self.security_protocol in ("SSL", "SASL_SSL"):
            from aiokafka.helpers import create_ssl_context

            options["ssl_context"] = create_ssl_context()
        return options


class KafkaPublisher:
    """Blocking publish for a thread; the async producer lives on this object's own loop."""

    def __init__(self, config: KafkaConfig, topics: Sequence[str]) -> None:
        self.config = config
        self.topics = tuple(topics)
        self.connected = False
        self._producer: AIOKafkaProducer | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="kafka-producer", daemon=True
        )
        self._thread.start()

    def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        if not messages:
            return
        future = asyncio.run_coroutine_threadsafe(self._publish(messages), self._loop)
        timeout = self.config.request_timeout_ms / 1000 * 3
        try:
            future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            self._reset_soon()
            raise PublishFailed(f"no acknowledgement within {timeout:.0f} s") from None

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._drop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _publish(self, messages: Sequence[OutgoingMessage]) -> None:
        try:
            producer = await self._ready()
            pending = [await producer.send(m.topic, m.value, key=m.key) for m in messages]
            await asyncio.gather(*pending)
        except (KafkaError, OSError) as error:
            await self._drop()
            raise PublishFailed(f"{type(error).__name__}: {error}") from None

    async def _ready(self) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        await self._create_topics()
        producer = AIOKafkaProducer(
            **self.config.client_options(),
            acks="all",
            enable_idempotence=self.config.idempotent,
            linger_ms=2,
            max_batch_size=1 << 20,
            compression_type=None,
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        self._producer, self.connected = producer, True
        return producer

    async def _create_topics(self) -> None:
        admin = AIOKafkaAdminClient(**self.config.client_options())
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            missing = [t for t in self.topics if t not in existing]
            if missing:
                new = [
                    NewTopic(t, self.config.partitions, self.config.replication) for t in missing
                ]
                response = await admin.create_topics(new)
                for topic, code, message in response.topic_errors:
                    if code not in (0, _TOPIC_EXISTS):
                        raise PublishFailed(f"cannot create topic {topic}: {message}")
                log.info("created Kafka topics %s", ", ".join(missing))
        finally:
            await admin.close()

    async def _drop(self) -> None:
        producer, self._producer, self.connected = self._producer, None, False
        if producer is not None:
            try:
                await producer.stop()
            except Exception:  # it is being thrown away; a failing stop changes nothing
                log.debug("stopping the Kafka producer failed", exc_info=True)

    def _reset_soon(self) -> None:
        asyncio.run_coroutine_threadsafe(self._drop(), self._loop)
