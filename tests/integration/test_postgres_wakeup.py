"""Two processes' worth of stores on one PostgreSQL database: a commit through one wakes the
commit listeners of the other through LISTEN/NOTIFY, and a lost connection is re-opened."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from adapters.event_store import open_event_store
from adapters.postgres_wakeup import PostgresCommitWatcher
from tests.factories import new_job
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.postgres


def test_a_commit_through_one_store_wakes_the_listeners_of_the_other(
    postgres: PostgresServer,
) -> None:
    url = postgres.new_database()
    writer, reader = open_event_store(url), open_event_store(url)
    woken: list[int] = []
    arrived = threading.Event()

    def listener(position: int) -> None:
        woken.append(position)
        arrived.set()

    reader.on_commit(listener)
    recorder = reader.recorder
    watcher = PostgresCommitWatcher(
        url, recorder.channel_name, lambda: reader.wake_listeners(reader.max_position())
    )
    watcher.start()
    try:
        assert watcher.wait_listening(10)
        assert woken == []  # nothing until someone commits
        sent = time.monotonic()
        position = writer.commit(new_job())
        assert arrived.wait(5), "no wake-up from the other store's commit"
        assert time.monotonic() - sent < 1.0
        assert woken[-1] == position

        # A dropped connection (a restarted database, a failover) is re-opened: the next commit
        # still arrives.
        with psycopg.connect(postgres.admin_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query ILIKE 'LISTEN%%' AND pid <> pg_backend_pid()"
            )
        watcher._listening.clear()  # then wait below for the re-opened connection
        deadline = time.monotonic() + 10
        while not watcher.wait_listening(0.1) and time.monotonic() < deadline:
            pass
        arrived.clear()
        again = writer.commit(new_job())
        assert arrived.wait(5), "no wake-up after the connection was re-opened"
        assert woken[-1] == again
    finally:
        watcher.stop()
        writer.close()
        reader.close()
