"""`tradai relay`: the Kafka relay on its own process, without the API.

Every API process with BACKEND_KAFKA_BOOTSTRAP_SERVERS set runs the relay too; this command is
for deployments that prefer one relay process (or none in the API: leave the setting empty
there). All relays share one recorded position, so running several only costs duplicates,
which consumers drop by `event_id`.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from adapters.event_store import open_event_store
from adapters.sql_engine import create_engine
from adapters.sql_read_store import SqlReadStore
from app.bootstrap import kafka_relay
from app.logging_setup import configure_logging
from app.settings import Settings

log = logging.getLogger(__name__)


def run_relay(settings: Settings) -> None:
    """Publish until SIGTERM or SIGINT; then stop after the batch in flight."""
    if not settings.kafka_bootstrap_servers:
        raise SystemExit("error: BACKEND_KAFKA_BOOTSTRAP_SERVERS is empty: no broker to publish to")
    configure_logging(settings.log_level, settings.log_format)
    store = open_event_store(settings.resolved_event_store_url)
    read_store = SqlReadStore(create_engine(settings.resolved_read_model_url))
    read_store.create()
    runner = kafka_relay(settings, store, read_store)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    runner.start()
    log.info("relaying to %s from position %s", settings.kafka_bootstrap_servers, runner.position)
    try:
        stop.wait()  # the runner polls the log for other processes' commits itself
    finally:
        runner.stop(timeout=5)
        runner.subscriber.close()  # type: ignore[attr-defined]
        store.close()
        read_store.engine.dispose()
