"""Each benchmark figure, measured next to its baseline from the same run."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import httpx
import msgspec

from adapters.event_store import open_event_store
from adapters.freqtrade.run_config import cli_argv, freqtrade_args, freqtrade_config
from adapters.sql_engine import create_engine
from adapters.sql_read_store import SqlReadStore
from app.rebuild import default_workers
from bench.live_latency import percentile, ws_delays
from bench.load import Load, wrk
from bench.servers import api, baseline, busy_core, rss_mb
from projections.execution_ports import RunSpec
from projections.read_model import ReadModelProjector
from projections.rebuild import rebuild_read_model, rebuild_read_model_parallel
from projections.runner import SubscriberRunner
from tests.factories import LEASE, new_job
from tests.support.strategies import minimal

SUBMIT = {
    "strategy": "Bench",
    "pairs": ["BTC/USDT", "ETH/USDT"],
    "timeframe": "5m",
    "timerange": "20240101-20240201",
}


@dataclass(frozen=True)
class Figure:
    name: str
    value: str
    baseline: str
    ratio: float | None
    target: str
    met: bool | None  # None: shown for comparison, no target of its own


def http_throughput(seconds: int) -> list[Figure]:
    """Submit and read throughput against a bare Litestar endpoint, same server, 32 connections."""
    with baseline() as base:
        bare_post = wrk(f"{base}/echo", seconds=seconds, method="POST", body=SUBMIT, warmup=1)
        bare_get = wrk(f"{base}/ping", seconds=seconds, warmup=1)
    with api({"BACKEND_EXECUTOR": "off"}) as server:
        auth = {"Authorization": f"Bearer {server.token('bench', 'researcher')}"}
        http = httpx.Client(base_url=f"{server.url}/api/v1", headers=auth)
        http.post("/strategies/Bench/versions", json={"code": minimal("Bench")})
        job = http.post("/backtests", json=SUBMIT).json()["id"]
        submit = wrk(
            f"{server.url}/api/v1/backtests",
            seconds=seconds,
            method="POST",
            body=SUBMIT,
            headers=auth,
            warmup=1,
        )
        read = wrk(f"{server.url}/api/v1/backtests/{job}", seconds=seconds, headers=auth, warmup=1)
    submit_ratio = submit.requests_per_second / bare_post.requests_per_second
    read_ratio = read.requests_per_second / bare_get.requests_per_second
    return [
        Figure(
            "submit throughput (req/s, p99)",
            _load(submit),
            f"{bare_post.requests_per_second:,.0f} req/s, p99 {bare_post.p99_ms:.1f} ms",
            submit_ratio,
            ">= 0.5x, p99 <= 25 ms",
            submit_ratio >= 0.5 and submit.p99_ms <= 25 and submit.errors == 0,
        ),
        Figure(
            "read throughput GET /backtests/{id}",
            _load(read),
            f"{bare_get.requests_per_second:,.0f} req/s, p99 {bare_get.p99_ms:.1f} ms",
            read_ratio,
            ">= 0.7x",
            read_ratio >= 0.7 and read.errors == 0,
        ),
    ]


def submit_latency_under_contention(seconds: int) -> list[Figure]:
    """Submit p50/p99 on a quiet machine and with a second process keeping one core busy; the
    bare POST endpoint under the same two conditions is the baseline."""
    rows: list[Figure] = []
    with api({"BACKEND_EXECUTOR": "off"}) as server:
        auth = {"Authorization": f"Bearer {server.token('bench', 'researcher')}"}
        httpx.post(
            f"{server.url}/api/v1/strategies/Bench/versions",
            json={"code": minimal("Bench")},
            headers=auth,
        )
        url = f"{server.url}/api/v1/backtests"
        for busy, target in ((False, 25.0), (True, 50.0)):
            with baseline() as base, busy_core(busy):
                bare = wrk(f"{base}/echo", seconds=seconds, method="POST", body=SUBMIT, warmup=1)
                ours = wrk(url, seconds=seconds, method="POST", body=SUBMIT, headers=auth, warmup=1)
            rows.append(
                Figure(
                    f"submit latency, {'one core busy' if busy else 'quiet'}",
                    f"p50 {ours.p50_ms:.1f} ms, p99 {ours.p99_ms:.1f} ms, "
                    f"{ours.requests_per_second:,.0f} req/s",
                    f"p50 {bare.p50_ms:.1f} ms, p99 {bare.p99_ms:.1f} ms bare POST",
                    ours.p99_ms / bare.p99_ms,
                    f"p99 <= {target:.0f} ms",
                    ours.p99_ms <= target and ours.errors == 0,
                )
            )
    return rows


def kafka_relay(events: int, seconds: float) -> list[Figure]:
    """The relay against aiokafka alone on the same payloads; commit -> consumer under load."""
    from bench import kafka

    relay, raw = kafka.relay_throughput(events)
    median, p99 = kafka.summary(kafka.commit_to_consumer(seconds))
    return [
        Figure(
            f"Kafka relay ({events:,} events)", f"{relay:,.0f} events/s",
            f"{raw:,.0f} events/s aiokafka alone", relay / raw,
            ">= 30,000 events/s and >= 0.5x", relay >= 30_000 and relay / raw >= 0.5,
        ),
        Figure(
            "commit -> Kafka consumer (200 submits/s)",
            f"median {median:.2f} ms, p99 {p99:.2f} ms", "-", None,
            "p99 <= 50 ms", p99 <= 50,
        ),
    ]  # fmt: skip


def dynamodb_read_model(events: int, seconds: int) -> list[Figure]:
    """Queries from DynamoDB Local next to SQL (same run), and the projector into each."""
    from bench import dynamodb

    loads = dynamodb.query_throughput(seconds)
    (d_one, d_list), (s_one, s_list) = loads["dynamodb"], loads["sql"]
    into_dynamo, into_sql = dynamodb.projector_rate(events)
    return [
        Figure(
            "GET /backtests/{id}, DynamoDB Local", _load(d_one), f"{_load(s_one)} SQL",
            d_one.requests_per_second / s_one.requests_per_second, "(reported)", None,
        ),
        Figure(
            "GET /backtests?status=, DynamoDB Local", _load(d_list), f"{_load(s_list)} SQL",
            d_list.requests_per_second / s_list.requests_per_second, "(reported)", None,
        ),
        Figure(
            f"projector into DynamoDB Local ({events:,})", f"{into_dynamo:,.0f} events/s",
            f"{into_sql:,.0f} events/s into SQLite", into_dynamo / into_sql, "(reported)", None,
        ),
    ]  # fmt: skip


def _load(load: Load) -> str:
    errors = f", {load.errors} errors" if load.errors else ""
    return f"{load.requests_per_second:,.0f} req/s, p99 {load.p99_ms:.1f} ms{errors}"


def freshness(events: int) -> list[Figure]:
    """Commit -> visible in the SQL read model (in process), and commit -> WebSocket client."""
    folder = Path(tempfile.mkdtemp(prefix="tradai-bench-"))
    store = open_event_store(f"sqlite:///{folder / 'events.db'}")
    read = SqlReadStore(create_engine(f"sqlite:///{folder / 'read.db'}"))
    read.create()
    runner = SubscriberRunner(ReadModelProjector(read), store)
    store.on_commit(runner.wake)
    runner.start()
    sql: list[float] = []
    try:
        for _ in range(events):
            job = new_job()
            position = store.commit(job)
            committed = time.perf_counter()
            runner.wait_for(position, 5)
            sql.append((time.perf_counter() - committed) * 1000)
    finally:
        runner.stop()
        store.close()
    with api({"BACKEND_EXECUTOR": "off"}) as server:
        ws = ws_delays(server, events)
    return [
        Figure(
            "commit -> SQL read model",
            f"median {statistics.median(sql):.2f} ms, p99 {percentile(sql, 0.99):.2f} ms",
            "-", None, "p99 <= 20 ms", percentile(sql, 0.99) <= 20,
        ),
        Figure(
            "commit -> WebSocket client",
            f"median {statistics.median(ws):.2f} ms, p99 {percentile(ws, 0.99):.2f} ms",
            "-", None, "p99 <= 30 ms", percentile(ws, 0.99) <= 30,
        ),
    ]  # fmt: skip


def rebuild(events: int) -> list[Figure]:
    """Rebuild of the read model from the store, against a decode-only replay of the same events."""
    folder = Path(tempfile.mkdtemp(prefix="tradai-bench-"))
    url = f"sqlite:///{folder / 'events.db'}"
    store = open_event_store(url)
    for _ in range(events // 3000):  # 1,000 jobs of three events each per transaction
        jobs = [new_job() for _ in range(1000)]
        for job in jobs:
            job.start(attempt=1, worker="w", lease_expires_at=LEASE)
            job.report_progress("backtest", 0.5)
        store.commit(*jobs)
    total = store.max_position()
    started = time.perf_counter()
    position, decoded = 0, 0
    while batch := store.read(position, 2000):
        position, decoded = batch[-1].position, decoded + len(batch)
    decode_rate = decoded / (time.perf_counter() - started)
    single = rebuild_read_model(
        store, SqlReadStore(create_engine(f"sqlite:///{folder / 'one.db'}")), batch_size=2000
    )
    workers = default_workers()
    report = rebuild_read_model_parallel(
        lambda: open_event_store(url, create_tables=False),
        SqlReadStore(create_engine(f"sqlite:///{folder / 'read.db'}")),
        workers=workers,
        batch_size=2000,
    )
    store.close()
    rate = report.events / report.seconds
    ratio = rate / decode_rate
    one = single.events / single.seconds
    return [
        Figure(
            f"rebuild ({total:,} events, {workers} processes)",
            f"{rate:,.0f} events/s", f"{decode_rate:,.0f} events/s decode-only", ratio,
            ">= 100,000 events/s and >= 0.5x", rate >= 100_000 and ratio >= 0.5,
        ),
        Figure(
            "  the same rebuild in one process",
            f"{one:,.0f} events/s", f"{decode_rate:,.0f} events/s decode-only", one / decode_rate,
            "(for comparison)", None,
        ),
    ]  # fmt: skip


def _wait(http: httpx.Client, ids: list[str]) -> None:
    """Poll with one list request per 20 ms, whatever the number of jobs: the waiting client
    must not take CPU from the 2-core machine's workers (one GET per job per tick did)."""
    pending = set(ids)
    while pending:
        for job in http.get("/backtests", params={"limit": 50}).json()["items"]:
            if job["id"] in pending and job["status"] in {"completed", "failed", "cancelled"}:
                assert job["status"] == "completed", job["error"]
                pending.discard(job["id"])
        time.sleep(0.02)


def backtests(runs: int = 3) -> list[Figure]:
    """One backtest through the API vs the bare freqtrade CLI; eight on two workers vs one x 4."""
    body = {
        "strategy": "SampleEmaCross",
        "pairs": ["BTC/USDT", "ETH/USDT"],
        "timeframe": "5m",
        "timerange": "20240101-20240401",
    }
    with api({"BACKEND_WORKERS": "2"}, seed=True) as server:
        auth = {"Authorization": f"Bearer {server.token('bench', 'researcher')}"}
        http = httpx.Client(base_url=f"{server.url}/api/v1", headers=auth)
        _wait(
            http, [http.post("/backtests", json=body).json()["id"] for _ in range(2)]
        )  # warm both
        singles = []
        for _ in range(runs):
            started = time.perf_counter()
            _wait(http, [http.post("/backtests", json=body).json()["id"]])
            singles.append(time.perf_counter() - started)
        started = time.perf_counter()
        _wait(http, [http.post("/backtests", json=body).json()["id"] for _ in range(8)])
        eight = time.perf_counter() - started
        data = server.data_dir / "market-data"
    one = statistics.median(singles)
    cli = statistics.median(_bare_cli(data) for _ in range(runs))
    return [
        Figure(
            "one backtest, submit -> completed (API)",
            f"{one:.2f} s (median of {runs})", f"{cli:.2f} s bare freqtrade CLI", one / cli,
            "<= 0.8x", one / cli <= 0.8,
        ),
        Figure(
            "eight backtests on two workers",
            f"{eight:.2f} s", f"{one * 4:.2f} s (one x 4)", eight / (one * 4),
            "<= 1.15x", eight / (one * 4) <= 1.15,
        ),
    ]  # fmt: skip


def _bare_cli(datadir: Path) -> float:
    code = (resources.files("app.samples") / "SampleEmaCross.py").read_text()
    work = Path(tempfile.mkdtemp(prefix="tradai-bench-cli-"))
    for sub in ("strategies", "results", "user_data"):
        (work / sub).mkdir()
    (work / "strategies" / "SampleEmaCross.py").write_text(code)
    spec = RunSpec(
        job_id=uuid.uuid4(), attempt=1, strategy="SampleEmaCross", code=code, code_sha256="-",
        pairs=("BTC/USDT", "ETH/USDT"), timeframe="5m", timerange="20240101-20240401",
        exchange="binance", stake_amount=None, max_open_trades=None, starting_balance=None,
        fee=None,
    )  # fmt: skip
    (work / "config.json").write_bytes(msgspec.json.encode(freqtrade_config(spec, work)))
    argv = cli_argv(freqtrade_args(spec, work, work / "config.json", datadir))
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "adapters.freqtrade.offline_cli", *argv],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def memory(requests: int = 100_000) -> list[Figure]:
    """API process memory after `requests` requests, against the same process after 1,000."""
    with api({"BACKEND_EXECUTOR": "off"}) as server:
        assert server.process is not None
        auth = {"Authorization": f"Bearer {server.token('bench', 'researcher')}"}
        http = httpx.Client(base_url=f"{server.url}/api/v1", headers=auth)
        http.post("/strategies/Bench/versions", json={"code": minimal("Bench")})
        job = http.post("/backtests", json=SUBMIT).json()["id"]
        for _ in range(1000):
            http.get(f"/backtests/{job}")
        early = rss_mb(server.process.pid)
        done = 1000
        while done < requests:
            done += wrk(f"{server.url}/api/v1/backtests/{job}", seconds=10, headers=auth).requests
        late = rss_mb(server.process.pid)
    growth = late / early - 1
    return [
        Figure(
            f"API memory after {done:,} requests",
            f"{late:.1f} MB", f"{early:.1f} MB after 1,000", late / early,
            "growth < 10%", growth < 0.10,
        )
    ]  # fmt: skip
