"""Wake this process's subscribers when another process commits events to PostgreSQL.

eventsourcing's PostgreSQL recorder sends `NOTIFY <channel>` in every transaction that inserts
events. One thread per API process LISTENs on that channel on a connection of its own and, for
each notification (several queued ones at once count as one), calls `wake()`: the subscribers
(read model, live feed, executor, relay) then read the new events at once instead of at their
next poll, so a WebSocket client of one replica sees a command committed through another within
milliseconds. The poll stays as the safety net: a lost connection is re-opened after a second.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)
_WAIT_SECONDS = 0.5  # how often the thread checks whether it should stop


class PostgresCommitWatcher:
    def __init__(self, url: str, channel: str, wake: Callable[[], None]) -> None:
        self.url = url
        self.channel = channel
        self.wake = wake
        self.notifications = 0  # received, for tests and metrics
        self._stopping = threading.Event()
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pg-listen", daemon=True)
        self._thread.start()

    def wait_listening(self, timeout: float) -> bool:
        return self._listening.wait(timeout)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(_WAIT_SECONDS * 4)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen()
            except (psycopg.Error, OSError) as error:
                self._listening.clear()
                log.warning("listening for commits of other replicas failed: %s", error)
                self._stopping.wait(1.0)

    def _listen(self) -> None:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as connection:
            connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            self._listening.set()
            while not self._stopping.is_set():
                got = sum(1 for _ in connection.notifies(timeout=_WAIT_SECONDS, stop_after=1))
                if not got:
                    continue
                # Take whatever else is queued already, then wake once for all of it.
                got += sum(1 for _ in connection.notifies(timeout=0.001))
                self.notifications += got
                try:
                    self.wake()
                except Exception:
                    log.exception("waking the subscribers failed")
