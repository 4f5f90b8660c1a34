"""Crash safety with real processes: SIGKILL of the API during a burst of submits, and of a
read-model rebuild. After each crash nothing acknowledged is lost, nothing exists that no
client knows about, a retry with the same Idempotency-Key never makes a duplicate, and the
read model equals one rebuilt from the event store."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.event_store import open_event_store
from adapters.sql_engine import create_engine
from adapters.sql_read_store import SqlReadStore
from app.auth import mint_token
from app.rebuild import rebuild_and_swap
from app.secrets import jwt_secret
from app.settings import load_settings
from commands.strategies import StrategyCommands
from tests.factories import LEASE, new_job, register, submit_body
from tests.support.server import ServerProcess
from tests.support.strategies import minimal

pytestmark = pytest.mark.e2e

TRADAI = Path(sys.executable).parent / "tradai"
STRATEGY = "EmaCross"
CLIENTS = 8  # concurrent clients, each its own user (write limits and keys are per user)
KILL_AFTER = 100  # a burst is killed once this many of its submits were answered 202
# A burst is killed at its threshold plus one of these delays, so the kill lands at different
# moments of the writer's cycle (between batches, while one is saved, while it is answered).
KILL_DELAYS = (0.0, 0.004, 0.009, 0.015)
PER_USER = 100  # submits per user, well below the default write limit (600 a minute)
SEED_JOBS, SEED_STEPS = 20_000, 8  # 200,002 events: a rebuild replays them for about a second


@dataclass
class Burst:
    """What clients saw: answered submits, submits without an answer, unexpected statuses."""

    acknowledged: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> the job
    unanswered: dict[str, str] = field(default_factory=dict)  # key -> its user
    refused: dict[str, str] = field(default_factory=dict)  # key -> status and body
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _body(key: str) -> dict[str, Any]:
    """Each key's own body (a retry must repeat exactly its request to be a replay)."""
    return submit_body(strategy=STRATEGY, stake_amount=100 + sum(map(ord, key)) % 17)


def _token(server: ServerProcess, user: str) -> str:
    return mint_token(jwt_secret(load_settings(server.env())), user, ["researcher"], 3600)


def _client(server: ServerProcess, user: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {_token(server, user)}"}
    return httpx.Client(base_url=f"{server.url}/api/v1", headers=headers, timeout=15)


def _submit_until_stopped(
    server: ServerProcess, user: str, prefix: str, burst: Burst, pause: float = 0.0
) -> None:
    """Submit one request after another, each with a new key, until `burst.stop` is set or the
    server stops answering. Every PER_USER requests another user takes over, so no user
    comes near the per-user write limit however slow the machine is."""
    client: httpx.Client | None = None
    try:
        for i in range(1_000_000):
            if burst.stop.is_set():
                return
            if i % PER_USER == 0:
                if client is not None:
                    client.close()
                who = f"{user}.{i // PER_USER}"
                client = _client(server, who)
            assert client is not None
            key = f"{prefix}-{i}"
            try:
                response = client.post(
                    "/backtests", json=_body(key), headers={"Idempotency-Key": key}
                )
            except httpx.HTTPError:  # the connection broke: no answer (the server was killed)
                with burst.lock:
                    burst.unanswered[key] = who
                return
            with burst.lock:
                if response.status_code != 202:
                    burst.refused[key] = f"{response.status_code} {response.text}"
                    return
                burst.acknowledged[key] = response.json()
            if pause:
                time.sleep(pause)
    finally:
        if client is not None:
            client.close()


@contextmanager
def _submitting(server: ServerProcess, burst: Burst, users: int, pause: float) -> Iterator[None]:
    """Clients submitting in the background for the duration of the block."""
    burst.stop.clear()
    threads = [
        threading.Thread(
            target=_submit_until_stopped,
            args=(server, f"writer-{n}", f"w{n}-{time.monotonic_ns()}", burst, pause),
        )
        for n in range(users)
    ]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        burst.stop.set()
        for thread in threads:
            thread.join(30)


def _all_job_ids(client: httpx.Client) -> list[str]:
    ids: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 200} | ({"cursor": cursor} if cursor else {})
        page = client.get("/backtests", params=params)
        assert page.status_code == 200, page.text
        ids += [item["id"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if not cursor:
            return ids


def _lost(client: httpx.Client, burst: Burst) -> list[str]:
    """Acknowledged submits whose job is not served as it was acknowledged."""
    return [
        key
        for key, job in burst.acknowledged.items()
        if client.get(f"/backtests/{job['id']}").json() != job
    ]


def _wait_caught_up(server: ServerProcess, timeout: float = 30.0) -> int:
    """Wait until the server's read model has reached the event store's head; return it."""
    deadline = time.monotonic() + timeout
    while True:
        positions = httpx.get(f"{server.url}/ready", timeout=5).json()["positions"]
        if positions["read_model"] == positions["event_store"]:
            return int(positions["event_store"])
        assert time.monotonic() < deadline, f"the read model does not catch up: {positions}"
        time.sleep(0.05)


def _read_model(url: str) -> tuple[dict[str, dict[str, bytes]], int]:
    """Every document of a read model, and its recorded position."""
    engine = create_engine(url)
    try:
        store = SqlReadStore(engine)
        return store.dump(), store.position("read_model")
    finally:
        engine.dispose()


def _live_url(server: ServerProcess) -> str:
    return f"sqlite:///{server.data_dir / 'read_model.db'}"


def _rebuild(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """`tradai projections rebuild` in a session of its own (its forked workers share its
    process group, so the test can tell when every one of them has gone)."""
    return subprocess.Popen(
        [str(TRADAI), "projections", "rebuild", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _finish(process: subprocess.Popen[str]) -> None:
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "rebuilt the read model from" in output, output


def _assert_equals_fresh_rebuild(server: ServerProcess, name: str) -> int:
    """The server's read model, caught up, equals one rebuilt from the log into a new database;
    returns how many jobs it holds."""
    head = _wait_caught_up(server)
    live = _read_model(_live_url(server))
    fresh_url = f"sqlite:///{server.data_dir / f'{name}.db'}"
    _finish(_rebuild(server.env() | {"BACKEND_READ_MODEL_URL": fresh_url}))
    fresh = _read_model(fresh_url)
    assert live[1] == fresh[1] == head
    assert live[0].keys() == fresh[0].keys()
    for table in fresh[0]:
        assert live[0][table] == fresh[0][table], f"{table} differs from a fresh rebuild"
    return len(live[0]["jobs"])


def _burst_then_kill(server: ServerProcess, burst: Burst, round_: int) -> None:
    """CLIENTS clients submit flat out; the server gets SIGKILL in the middle of it."""
    acknowledged_before = len(burst.acknowledged)
    threads = [
        threading.Thread(
            target=_submit_until_stopped,
            args=(server, f"client-{n}", f"r{round_}-c{n}", burst),
        )
        for n in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(burst.acknowledged) - acknowledged_before < KILL_AFTER and not burst.refused:
        assert time.monotonic() < deadline, "the burst is too slow to reach the kill point"
        time.sleep(0.001)
    time.sleep(KILL_DELAYS[round_ % len(KILL_DELAYS)])
    assert server.process is not None
    server.process.kill()  # SIGKILL: no shutdown hook, no queue drained, mid-burst
    server.process.wait(10)
    for thread in threads:
        thread.join(30)
    assert not burst.refused, f"submits refused before the kill: {burst.refused}"


def test_sigkill_during_a_burst_of_submits(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", {"BACKEND_EXECUTOR": "off"})
    burst = Burst()
    try:
        server.start()
        with _client(server, "alice") as client:
            registered = client.post(
                f"/strategies/{STRATEGY}/versions", json={"code": minimal(STRATEGY)}
            )
            assert registered.status_code == 201, registered.text
        # Several crashes in a row, each from the state the previous one left: more chances
        # to kill the writer between saving a batch and answering it.
        for round_ in range(len(KILL_DELAYS)):
            if round_:
                server.start()
                with _client(server, "alice") as client:
                    assert not _lost(client, burst)
            cut_off = len(burst.unanswered)
            _burst_then_kill(server, burst, round_)
            assert len(burst.unanswered) - cut_off == CLIENTS  # each client was cut off

        server.start()
        with _client(server, "alice") as client:
            lost = _lost(client, burst)
            assert not lost, f"{len(lost)} acknowledged submits lost or changed: {lost}"
            before = set(_all_job_ids(client))
        acknowledged = {job["id"] for job in burst.acknowledged.values()}
        assert acknowledged <= before
        unknown = before - acknowledged  # stored before a crash, never answered
        _assert_equals_fresh_rebuild(server, "fresh-after-restart")

        retried: dict[str, str] = {}
        for key, user in burst.unanswered.items():
            with _client(server, user) as client:
                again = client.post("/backtests", json=_body(key), headers={"Idempotency-Key": key})
                assert again.status_code == 202, again.text
                retried[key] = again.json()["id"]
                replay = client.post(
                    "/backtests", json=_body(key), headers={"Idempotency-Key": key}
                )
                assert replay.status_code == 202 and replay.json()["id"] == retried[key]
        found = {job_id for job_id in retried.values() if job_id in before}
        new = set(retried.values()) - before
        assert len(set(retried.values())) == len(retried), "two retries got the same job"
        assert not set(retried.values()) & acknowledged, "a retry got another request's job"
        assert unknown == found, f"jobs no client knows about: {unknown - found}"
        with _client(server, "alice") as client:
            after = _all_job_ids(client)
        assert len(after) == len(set(after)) == len(burst.acknowledged) + len(burst.unanswered)
        assert set(after) == acknowledged | set(retried.values())
        assert _assert_equals_fresh_rebuild(server, "fresh-after-retries") == len(after)
        print(
            f"\nSIGKILL during submits, {len(KILL_DELAYS)} crashes: "
            f"acknowledged={len(burst.acknowledged)} unanswered={len(burst.unanswered)} "
            f"retried-found={len(found)} retried-new={len(new)} jobs={len(after)}"
        )
    finally:
        server.stop()


def _seed(data_dir: Path) -> int:
    """A store with enough events that a rebuild takes a while: jobs that ran with progress."""
    store = open_event_store(f"sqlite:///{data_dir / 'events.db'}")
    try:
        StrategyCommands(store).register_strategy_version(register(name=STRATEGY), "alice")
        jobs = []
        for _ in range(SEED_JOBS):
            job = new_job(strategy=STRATEGY)
            job.start(attempt=1, worker="w1", lease_expires_at=LEASE)
            for step in range(SEED_STEPS):
                job.report_progress("backtest", step / SEED_STEPS)
            jobs.append(job)
            if len(jobs) == 500:
                store.save(*jobs)
                jobs.clear()
        store.save(*jobs)
        return store.max_position()
    finally:
        store.close()


def _rebuild_positions(database: Path) -> dict[str, int]:
    """The positions the rebuild's own tables record (empty while it has none)."""
    with sqlite3.connect(database, timeout=30) as db:
        try:
            rows = db.execute("SELECT name, position FROM rebuild_projection_positions").fetchall()
        except sqlite3.OperationalError:  # not created yet
            return {}
    return {str(name): int(position) for name, position in rows}


def _group_gone(pgid: int, timeout: float) -> bool:
    """True once no process of the group is left."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.01)
    return False


def test_sigkill_during_a_rebuild(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    seeded = _seed(data)
    server = ServerProcess(data, {"BACKEND_EXECUTOR": "off"})
    # The live model from a rebuild here: quicker than the server's projector catching up.
    assert rebuild_and_swap(load_settings(server.env())).position == seeded
    burst = Burst()
    try:
        server.start(timeout=60)
        assert _wait_caught_up(server) == seeded

        # 1. The rebuild (two processes) is killed once it has written a little.
        with _submitting(server, burst, users=2, pause=0.01):
            rebuild = _rebuild(server.env(), "--workers", "2", "--batch-size", "100")
            deadline = time.monotonic() + 30
            while not any(_rebuild_positions(data / "read_model.db").values()):
                assert rebuild.poll() is None, "the rebuild ended before it could be killed"
                assert time.monotonic() < deadline, "the rebuild shows no progress"
                time.sleep(0.005)
            os.kill(rebuild.pid, signal.SIGKILL)  # the command itself, as an operator would
            rebuild.wait(10)
            gone = _group_gone(rebuild.pid, 10)
            if not gone:
                os.killpg(rebuild.pid, signal.SIGKILL)
        assert gone, "the rebuild's worker processes outlived it"
        partial = _rebuild_positions(data / "read_model.db")
        assert partial and all(p < seeded for p in partial.values()), (
            f"the killed rebuild went on: {partial}"
        )

        # 2. The service still answers from its own (live) model, and that model is correct.
        assert httpx.get(f"{server.url}/ready", timeout=5).json()["status"] == "ok"
        with _client(server, "alice") as client:
            assert not _lost(client, burst)
        jobs = _assert_equals_fresh_rebuild(server, "fresh-after-killed-rebuild")
        assert jobs == SEED_JOBS + len(burst.acknowledged)

        # 3. A rebuild in place completes and equals the live model it replaces.
        before = _read_model(_live_url(server))
        _finish(_rebuild(server.env(), "--workers", "2"))
        assert _read_model(_live_url(server)) == before
        assert not _rebuild_positions(data / "read_model.db"), "rebuild tables left behind"

        # 4. Submits answered while a rebuild replays are still served after it swaps.
        rebuild = _rebuild(server.env(), "--workers", "2", "--batch-size", "100")
        with _submitting(server, burst, users=2, pause=0.01):
            while not any(_rebuild_positions(data / "read_model.db").values()):
                assert rebuild.poll() is None, "the rebuild ended before submits began"
                time.sleep(0.005)
            time.sleep(0.3)
        _finish(rebuild)
        with _client(server, "alice") as client:
            lost = _lost(client, burst)
            assert not lost, f"{len(lost)} acknowledged submits not served after the swap"
        jobs = _assert_equals_fresh_rebuild(server, "fresh-after-rebuild")
        assert jobs == SEED_JOBS + len(burst.acknowledged)
        assert not burst.refused and not burst.unanswered
        print(
            f"\nSIGKILL during a rebuild of {seeded} events: killed at {partial}; "
            f"acknowledged during rebuilds={len(burst.acknowledged)}"
        )
    finally:
        server.stop()
