"""`tradai events tail`: the events published to Kafka, printed as they come, one JSON line each
(the message value), once per event_id, offsets committed after printing."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from fnmatch import fnmatchcase
from typing import Any

from adapters.kafka.consumer import Delivery, EventConsumer, SeenEventIds


async def tail_events(
    options: dict[str, Any],
    group: str,
    prefix: str,
    from_beginning: bool,
    type_pattern: str | None,
    max_events: int | None,
    timeout: float | None,
) -> None:
    out = sys.stdout.buffer
    printed = 0

    async def show(delivery: Delivery) -> None:
        nonlocal printed
        if type_pattern is None or fnmatchcase(delivery.event.type, type_pattern):
            out.write(delivery.value + b"\n")
            out.flush()
            printed += 1
            if max_events is not None and printed >= max_events:
                consumer.stop()

    consumer = EventConsumer(
        show,
        group_id=group,
        pattern=rf"^{re.escape(prefix)}\.",
        dedupe=SeenEventIds(),
        from_beginning=from_beginning,
        # Tansu forms a group in about half the session timeout (5 s at aiokafka's default);
        # 6 s is the least Kafka accepts
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
        **options,
    )
    loop = asyncio.get_running_loop()

    def interrupted() -> None:
        consumer.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)  # a second Ctrl-C stops at once

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupted)
    if timeout is not None:
        loop.call_later(timeout, consumer.stop)
    await consumer.run()
