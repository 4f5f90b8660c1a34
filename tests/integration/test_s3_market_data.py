"""Candles in S3 through the local cache (moto server): downloaded once, checked by size and
ETag, downloaded again only when the object changed."""

from __future__ import annotations

import stat
import threading
import uuid
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from adapters.aws.s3_market_data import S3MarketData
from adapters.market_data import LocalMarketData, MarketDataError, availability, candle_name
from adapters.sample_data import generate
from tests.support.aws import MotoServer, boto3_client

pytestmark = pytest.mark.aws

BTC_5M = candle_name("binance", "BTC/USDT", "5m")
ETH_5M = candle_name("binance", "ETH/USDT", "5m")


class CountingClient:
    """A boto3 client that counts the calls made through it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.calls[name] += 1
            return method(*args, **kwargs)

        return call


@pytest.fixture(scope="module")
def candles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sample candles, written locally first (a month of 5m and 1h for two pairs)."""
    root = tmp_path_factory.mktemp("candles")
    generate(
        root, "binance", ["BTC/USDT", "ETH/USDT"], ["5m", "1h"], date(2024, 1, 1), date(2024, 2, 1)
    )
    return root


class Stand:
    """A bucket of the test's own with the candles uploaded under a prefix, and a cache."""

    def __init__(self, moto: MotoServer, candles: Path, cache: Path) -> None:
        self.s3 = boto3_client("s3", moto.endpoint)
        self.bucket = f"candles-{uuid.uuid4().hex[:12]}"
        self.s3.create_bucket(Bucket=self.bucket)
        for path in sorted(candles.rglob("*.feather")):
            self.put(str(path.relative_to(candles)), path.read_bytes())
        self.client = CountingClient(self.s3)
        self.data = S3MarketData(f"s3://{self.bucket}/market", cache, client=self.client)
        self.data.create()

    def put(self, name: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=f"market/{name}", Body=body)

    def downloads(self) -> int:
        return self.client.calls["get_object"]


@pytest.fixture
def stand(moto_server: MotoServer, candles: Path, tmp_path: Path) -> Stand:
    return Stand(moto_server, candles, tmp_path / "market-data-cache")


def test_files_are_downloaded_once(stand: Stand, candles: Path) -> None:
    first = stand.data.sync("binance", ["BTC/USDT", "ETH/USDT"], "5m")
    assert first.downloaded == [BTC_5M, ETH_5M] and stand.downloads() == 2
    cached = stand.data.root / BTC_5M
    assert cached.read_bytes() == (candles / BTC_5M).read_bytes()
    before = cached.stat()

    again = stand.data.sync("binance", ["BTC/USDT", "ETH/USDT"], "5m")
    assert again.unchanged == [BTC_5M, ETH_5M] and again.downloaded == []
    assert stand.downloads() == 2, "unchanged size and ETag: no download"
    assert stand.client.calls["head_object"] == 4, "one HEAD per file and sync"
    after = cached.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    # Only what was asked for: the 1h files stay in S3.
    assert not (stand.data.root / candle_name("binance", "BTC/USDT", "1h")).exists()


def test_a_changed_object_is_downloaded_again(stand: Stand) -> None:
    stand.data.sync("binance", ["BTC/USDT", "ETH/USDT"], "5m")
    stand.put(BTC_5M, b"new candles")
    report = stand.data.sync("binance", ["BTC/USDT", "ETH/USDT"], "5m")
    assert report.downloaded == [BTC_5M] and report.unchanged == [ETH_5M]
    assert (stand.data.root / BTC_5M).read_bytes() == b"new candles"
    assert stand.downloads() == 3


def test_same_size_other_content_is_caught_by_the_etag(stand: Stand) -> None:
    stand.put(BTC_5M, b"a" * 1000)
    stand.data.sync("binance", ["BTC/USDT"], "5m")
    stand.put(BTC_5M, b"b" * 1000)
    assert stand.data.sync("binance", ["BTC/USDT"], "5m").downloaded == [BTC_5M]
    assert (stand.data.root / BTC_5M).read_bytes() == b"b" * 1000


def test_a_damaged_cached_file_is_downloaded_again(stand: Stand, candles: Path) -> None:
    stand.data.sync("binance", ["BTC/USDT"], "5m")
    cached = stand.data.root / BTC_5M
    cached.write_bytes(cached.read_bytes()[:100])  # size no longer what S3 said
    assert stand.data.sync("binance", ["BTC/USDT"], "5m").downloaded == [BTC_5M]
    assert cached.read_bytes() == (candles / BTC_5M).read_bytes()


def test_an_object_gone_from_s3_leaves_the_cache_too(stand: Stand) -> None:
    stand.data.sync("binance", ["BTC/USDT"], "5m")
    stand.s3.delete_object(Bucket=stand.bucket, Key=f"market/{BTC_5M}")
    report = stand.data.sync("binance", ["BTC/USDT", "XRP/USDT"], "5m")
    assert report.missing == [BTC_5M, candle_name("binance", "XRP/USDT", "5m")]
    assert not (stand.data.root / BTC_5M).exists()


def test_the_cache_is_readable_by_the_sandbox_and_holds_no_partial_files(stand: Stand) -> None:
    stand.data.sync("binance", ["BTC/USDT", "ETH/USDT"], "5m")
    root = stand.data.root
    for path in [root, root / "binance"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o755
    for name in (BTC_5M, ETH_5M):
        assert stat.S_IMODE((root / name).stat().st_mode) == 0o644
    assert not [p for p in root.rglob(".incoming-*")]


def test_concurrent_syncs_download_a_file_once(stand: Stand) -> None:
    """Two runs of the same pairs starting together (two pool slots) share one download."""
    threads = [
        threading.Thread(target=stand.data.sync, args=("binance", ["BTC/USDT"], "5m"))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert stand.downloads() == 1


def test_availability_answers_from_s3_data(stand: Stand, candles: Path) -> None:
    start, end = date(2024, 1, 1), date(2024, 2, 1)
    pairs = ["BTC/USDT", "XRP/USDT"]
    from_s3 = availability(stand.data, "binance", pairs, "1h", start, end)
    local = availability(LocalMarketData(candles), "binance", pairs, "1h", start, end)
    assert from_s3 == local
    btc, xrp = from_s3
    assert btc.available and btc.covers_range and btc.candles == 31 * 24
    assert not xrp.available


def test_an_unreachable_bucket_is_a_market_data_error(
    moto_server: MotoServer, tmp_path: Path
) -> None:
    s3 = boto3_client("s3", moto_server.endpoint)
    data = S3MarketData(f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}", tmp_path, client=s3)
    with pytest.raises(MarketDataError, match="cannot reach the market data"):
        data.sync("binance", ["BTC/USDT"], "5m")
