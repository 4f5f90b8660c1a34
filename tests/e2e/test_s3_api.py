"""A real server whose artifacts and candles are in S3 (moto server), running a real freqtrade
backtest with the local executor: candles synced into the cache, artifacts written to the bucket
and streamed back from it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.freqtrade.results import run_result, strategy_stats
from adapters.market_data import candle_name
from tests.e2e.conftest import client_for
from tests.e2e.test_execution_api import submit, tradai, wait
from tests.support.aws import MotoServer, aws_env, boto3_client
from tests.support.server import ServerProcess

pytestmark = [pytest.mark.aws, pytest.mark.e2e]

SIX_MONTHS = "20240101-20240701"


@dataclass
class S3Stand:
    server: ServerProcess
    s3: Any
    bucket: str

    def keys(self, prefix: str) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for o in listed.get("Contents", []))


@pytest.fixture(scope="module")
def stand(moto_server: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Stand]:
    s3 = boto3_client("s3", moto_server.endpoint)
    bucket = f"tradai-e2e-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    env = aws_env(moto_server.endpoint) | {
        "BACKEND_WORKERS": "1",
        "BACKEND_ARTIFACTS_URL": f"s3://{bucket}/artifacts",
        "BACKEND_MARKET_DATA_DIR": f"s3://{bucket}/market-data",
    }
    server = ServerProcess(tmp_path_factory.mktemp("s3-server"), env)
    server.data_dir.mkdir(parents=True, exist_ok=True)
    # Sample candles made locally, then uploaded under the prefix; the sample strategy.
    tradai(server, "seed")
    server.start()
    try:
        yield S3Stand(server, s3, bucket)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def client(stand: S3Stand) -> Iterator[httpx.Client]:
    with client_for(stand.server, "alice", "researcher") as c:
        yield c


def test_seed_uploads_the_sample_candles_to_s3(stand: S3Stand) -> None:
    expected = sorted(
        f"market-data/{candle_name('binance', pair, tf)}"
        for pair in ("BTC/USDT", "ETH/USDT")
        for tf in ("5m", "1h")
    )
    assert stand.keys("market-data/") == expected
    assert not (stand.server.data_dir / "market-data").exists(), "nothing written locally"
    # Files in S3 already are not made or uploaded again.
    again = tradai(stand.server, "data", "generate")
    assert again.strip() == f"candles already in s3://{stand.bucket}/market-data/binance"


def test_a_backtest_reads_candles_from_s3_and_keeps_its_artifacts_there(
    stand: S3Stand, client: httpx.Client, tmp_path: Path
) -> None:
    job = wait(
        client, submit(client, "SampleEmaCross", timeframe="1h", timerange=SIX_MONTHS), timeout=180
    )
    assert job["status"] == "completed", job["error"]
    job_id = job["id"]

    # The run's artifacts are objects in the bucket, none in a local directory.
    assert stand.keys("artifacts/") == [
        f"artifacts/{job_id}/1/{name}"
        for name in ("freqtrade-result.zip", "freqtrade.log", "result")
    ]
    assert not (stand.server.data_dir / "artifacts").exists()
    # Only the files the run needed came into the cache.
    cache = stand.server.data_dir / "market-data-cache"
    assert sorted(str(p.relative_to(cache)) for p in cache.rglob("*.feather")) == [
        candle_name("binance", "BTC/USDT", "1h"),
        candle_name("binance", "ETH/USDT", "1h"),
    ]

    # The result (projected from the `result` artifact, read from S3) and the trades.
    result = client.get(f"/backtests/{job_id}/result").json()
    assert result["metrics"]["total_trades"] > 0
    trades = client.get(f"/backtests/{job_id}/trades", params={"limit": 1000}).json()["items"]
    assert len(trades) == result["metrics"]["total_trades"]

    # The download streams the object: the same bytes, freqtrade's own numbers inside.
    response = client.get(f"/backtests/{job_id}/artifacts/freqtrade-result.zip")
    assert response.status_code == 200
    stored = stand.s3.get_object(
        Bucket=stand.bucket, Key=f"artifacts/{job_id}/1/freqtrade-result.zip"
    )["Body"].read()
    assert response.content == stored and stored[:2] == b"PK"
    assert response.headers["content-length"] == str(len(stored))
    assert response.headers["content-type"] == "application/octet-stream"
    archive = tmp_path / "result.zip"
    archive.write_bytes(response.content)
    bare = run_result(strategy_stats(archive, "SampleEmaCross"), "SampleEmaCross")
    assert bare.metrics["total_trades"] == result["metrics"]["total_trades"]

    missing = client.get(f"/backtests/{job_id}/artifacts/nothing.txt")
    assert missing.status_code == 404

    # A second run on the same candles finds them unchanged in S3: nothing is downloaded.
    btc = cache / candle_name("binance", "BTC/USDT", "1h")
    before = btc.stat()
    job = wait(
        client,
        submit(client, "SampleEmaCross", timeframe="1h", timerange=SIX_MONTHS, pairs=["BTC/USDT"]),
        timeout=180,
    )
    assert job["status"] == "completed", job["error"]
    after = btc.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_missing_candles_in_s3_fail_the_run_with_a_reason(client: httpx.Client) -> None:
    job = wait(client, submit(client, "SampleEmaCross", pairs=["BTC/USDT", "XRP/USDT"]))
    assert job["status"] == "failed"
    assert "no candles for XRP/USDT 5m on binance" in job["error"]


def test_data_availability_answers_from_s3(stand: S3Stand, client: httpx.Client) -> None:
    params = {"pairs": "BTC/USDT,XRP/USDT", "timeframe": "5m", "timerange": SIX_MONTHS}
    answer = client.get("/data/availability", params=params).json()
    assert answer["complete"] is False
    btc, xrp = answer["pairs"]
    assert btc["available"] and btc["covers_range"] and btc["candles"] == 182 * 288
    assert not xrp["available"]
    # An object replaced in S3 is seen at once: here, the BTC 5m candles deleted.
    stand.s3.delete_object(
        Bucket=stand.bucket, Key=f"market-data/{candle_name('binance', 'BTC/USDT', '5m')}"
    )
    gone = client.get("/data/availability", params=params | {"pairs": "BTC/USDT"}).json()
    assert gone["pairs"][0]["available"] is False
