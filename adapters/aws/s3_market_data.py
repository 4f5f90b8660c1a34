"""Candles in S3 (BACKEND_MARKET_DATA_DIR=s3://bucket/prefix), read through a local cache.

The objects are laid out as freqtrade's files are (`<prefix>/<exchange>/<PAIR>-<tf>.feather`).
`sync` makes the files a run needs local under the cache directory, which is what the workers'
sandbox binds (read-only) and freqtrade reads: each file is downloaded once, then checked on
every sync with one HEAD request, and downloaded again only when S3's size or ETag differ from
the ones recorded at download. A download goes to a temporary name and is renamed into place, so
a run never reads half a file, and one that has a file open keeps reading the version it opened.
The size and ETag live in a hidden file beside each candle file (`.<name>.s3.json`).
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from adapters.aws.s3 import ERRORS, MISSING, S3Client, error_code
from adapters.aws.s3_url import S3Url
from adapters.market_data import MarketDataError, SyncReport, candle_name

log = logging.getLogger(__name__)
_CHUNK_BYTES = 1 << 20
_FILE_MODE = 0o644  # the sandbox runs as another uid: the cache must be readable by all
_DIR_MODE = 0o755


class ObjectVersion(msgspec.Struct, frozen=True):
    """What identifies the content of an object: its size and ETag (as S3 sends it, quoted)."""

    size: int
    etag: str


class S3MarketData:
    """The candles under an S3 prefix, and the local cache directory they are read from."""

    def __init__(self, url: str, cache_dir: Path, client: Any | None = None) -> None:
        self.location = S3Url.parse(url)
        self._root = cache_dir
        self._client = S3Client(client)
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}  # one per file: one download at a time
        self._bucket_seen = False

    @property
    def root(self) -> Path:
        return self._root

    def describe(self) -> str:
        return f"{self.location} (cached in {self._root})"

    def create(self) -> None:
        """The cache directory, readable by every user (the sandbox binds it as it is)."""
        self._root.mkdir(parents=True, exist_ok=True)
        self._root.chmod(_DIR_MODE)

    def sync(self, exchange: str, pairs: Sequence[str], timeframe: str) -> SyncReport:
        report = SyncReport()
        for pair in pairs:
            name = candle_name(exchange, pair, timeframe)
            outcome = self.fetch(name)
            getattr(report, outcome).append(name)
        if report.downloaded:
            log.info("market data: downloaded %s from %s", report.downloaded, self.location)
        return report

    def fetch(self, name: str) -> str:
        """Bring one file (relative name) up to date: `downloaded`, `unchanged` or `missing`
        (not in S3; a cached copy of it is removed, so the cache never shows what S3 lost)."""
        with self._lock(name):
            target = self._root / name
            record = _record_path(target)
            current = self.head(name)
            if current is None:
                record.unlink(missing_ok=True)
                target.unlink(missing_ok=True)
                return "missing"
            if _cached(target, record) == current:
                return "unchanged"
            self._download(name, target, record)
            return "downloaded"

    def head(self, name: str) -> ObjectVersion | None:
        """The object's size and ETag; None when there is no such object."""
        key = self.location.key(name)
        try:
            answer = self._client().head_object(Bucket=self.location.bucket, Key=key)
        except ERRORS as error:
            if error_code(error) in MISSING:
                self._check_bucket()
                return None
            raise MarketDataError(
                f"cannot reach the market data at {self.location.uri(key)}: {error}"
            ) from error
        return ObjectVersion(int(answer["ContentLength"]), str(answer["ETag"]))

    def _check_bucket(self) -> None:
        """A HEAD answers a bare 404 for a missing bucket as for a missing object: the first
        time an object is missing, make sure the bucket is there (a configuration mistake)."""
        if self._bucket_seen:
            return
        try:
            self._client().head_bucket(Bucket=self.location.bucket)
        except ERRORS as error:
            raise MarketDataError(
                f"cannot reach the market data at {self.location}: bucket "
                f"{self.location.bucket!r}: {error}"
            ) from error
        self._bucket_seen = True

    def upload(self, path: Path, name: str) -> None:
        """Store a local candle file under `name` (relative), replacing what is there."""
        key = self.location.key(name)
        try:
            with path.open("rb") as body:
                self._client().put_object(Bucket=self.location.bucket, Key=key, Body=body)
        except ERRORS as error:
            raise MarketDataError(f"cannot upload {self.location.uri(key)}: {error}") from error

    def _lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())

    def _download(self, name: str, target: Path, record: Path) -> None:
        key = self.location.key(name)
        self._public_dirs(target.parent)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                try:
                    response = self._client().get_object(Bucket=self.location.bucket, Key=key)
                    for chunk in response["Body"].iter_chunks(_CHUNK_BYTES):
                        out.write(chunk)
                except ERRORS as error:
                    raise MarketDataError(
                        f"cannot download the market data {self.location.uri(key)}: {error}"
                    ) from error
            # The version recorded is the one downloaded (GET's own size and ETag), whatever
            # the HEAD before it said: an object replaced in between is fetched again next time.
            got = ObjectVersion(os.stat(tmp).st_size, str(response["ETag"]))
            if got.size != int(response["ContentLength"]):
                raise MarketDataError(
                    f"the download of {self.location.uri(key)} was cut short "
                    f"({got.size} of {response['ContentLength']} bytes)"
                )
            os.chmod(tmp, _FILE_MODE)
            record.unlink(missing_ok=True)  # no record for a file in flux: a crash re-downloads
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _write_record(record, got)

    def _public_dirs(self, folder: Path) -> None:
        """`folder` and the directories between it and the cache root, readable by all."""
        folder.mkdir(parents=True, exist_ok=True)
        for path in (folder, *folder.parents):
            if not path.is_relative_to(self._root):
                break
            path.chmod(_DIR_MODE)


def _record_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.s3.json")


def _cached(target: Path, record: Path) -> ObjectVersion | None:
    """The version the cached file was downloaded as; None unless the file is there whole."""
    try:
        version = msgspec.json.decode(record.read_bytes(), type=ObjectVersion)
        size = target.stat().st_size
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None
    return version if size == version.size else None


def _write_record(record: Path, version: ObjectVersion) -> None:
    fd, tmp = tempfile.mkstemp(dir=record.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(msgspec.json.encode(version))
        os.replace(tmp, record)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
