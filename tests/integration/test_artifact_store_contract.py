"""The artifact port, the same tests for each adapter: a local directory, and S3 (moto server)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.artifact_store import CHUNK_BYTES, LocalArtifactStore
from projections.ports import ArtifactStore
from tests.support.aws import MotoServer, boto3_client

BAD_KEYS = ["", "/etc/passwd", "../outside", "job/../../outside", "job/.."]


def new_bucket(moto: MotoServer) -> tuple[Any, str]:
    """A bucket of the test's own, and a client to look into it."""
    s3 = boto3_client("s3", moto.endpoint)
    bucket = f"artifacts-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    return s3, bucket


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.aws)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArtifactStore]:
    if request.param == "local":
        yield LocalArtifactStore(tmp_path / "artifacts")
        return
    from adapters.aws.s3_artifacts import S3ArtifactStore

    moto: MotoServer = request.getfixturevalue("moto_server")
    s3, bucket = new_bucket(moto)
    yield S3ArtifactStore(f"s3://{bucket}/runs/", client=s3)


def a_file(folder: Path, content: bytes) -> str:
    path = folder / f"upload-{uuid.uuid4().hex}"
    path.write_bytes(content)
    return str(path)


def test_a_stored_file_reads_back(store: ArtifactStore, tmp_path: Path) -> None:
    content = os.urandom(10_000)
    assert store.put_file("job/1/result", a_file(tmp_path, content)) == "job/1/result"
    assert store.read("job/1/result") == content
    stream = store.stream("job/1/result")
    assert stream.size == len(content)
    assert b"".join(stream.chunks) == content


def test_an_empty_file_is_an_artifact_too(store: ArtifactStore, tmp_path: Path) -> None:
    store.put_file("job/1/empty.log", a_file(tmp_path, b""))
    assert store.read("job/1/empty.log") == b""
    stream = store.stream("job/1/empty.log")
    assert stream.size == 0 and b"".join(stream.chunks) == b""


def test_a_large_file_streams_in_chunks(store: ArtifactStore, tmp_path: Path) -> None:
    content = os.urandom(3 * CHUNK_BYTES + 123)
    store.put_file("job/2/freqtrade-result.zip", a_file(tmp_path, content))
    stream = store.stream("job/2/freqtrade-result.zip")
    chunks = list(stream.chunks)
    assert stream.size == len(content) and b"".join(chunks) == content
    assert len(chunks) >= 4 and max(len(c) for c in chunks) <= CHUNK_BYTES


def test_write_once(store: ArtifactStore, tmp_path: Path) -> None:
    store.put_file("job/1/result", a_file(tmp_path, b"first"))
    with pytest.raises(FileExistsError):
        store.put_file("job/1/result", a_file(tmp_path, b"second"))
    assert store.read("job/1/result") == b"first"
    # Another attempt of the same job is another key.
    store.put_file("job/2/result", a_file(tmp_path, b"second"))
    assert store.read("job/2/result") == b"second"


def test_a_missing_key_is_file_not_found(store: ArtifactStore, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        store.read("job/9/result")
    with pytest.raises(FileNotFoundError):
        store.stream("job/9/result")
    store.put_file("job/1/result", a_file(tmp_path, b"x"))
    with pytest.raises(FileNotFoundError):  # a key's parent is not an artifact
        store.read("job/1")


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_refused(store: ArtifactStore, tmp_path: Path, key: str) -> None:
    path = a_file(tmp_path, b"x")
    with pytest.raises(ValueError, match="bad artifact key"):
        store.put_file(key, path)
    with pytest.raises(ValueError, match="bad artifact key"):
        store.read(key)
    with pytest.raises(ValueError, match="bad artifact key"):
        store.stream(key)


def test_a_missing_source_file_stores_nothing(store: ArtifactStore, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        store.put_file("job/1/result", str(tmp_path / "not-there"))
    with pytest.raises(FileNotFoundError):
        store.read("job/1/result")


# --- S3 only ---------------------------------------------------------------------------------


@pytest.mark.aws
def test_s3_objects_lie_under_the_prefix(moto_server: MotoServer, tmp_path: Path) -> None:
    from adapters.aws.s3_artifacts import S3ArtifactStore

    s3, bucket = new_bucket(moto_server)
    store = S3ArtifactStore(f"s3://{bucket}/tradai/artifacts", client=s3)
    store.put_file("j/1/result", a_file(tmp_path, b"{}"))
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["tradai/artifacts/j/1/result"]


@pytest.mark.aws
def test_s3_failures_are_told_apart(moto_server: MotoServer, tmp_path: Path) -> None:
    """A store that cannot be used is not a missing artifact: a put fails with an OSError (the
    executor fails the job with it), a read raises StorageUnavailable (a projector retries)."""
    from adapters.aws.s3 import StorageUnavailable
    from adapters.aws.s3_artifacts import S3ArtifactStore

    s3 = boto3_client("s3", moto_server.endpoint)
    store = S3ArtifactStore(f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/a", client=s3)
    with pytest.raises(OSError, match="could not store") as raised:
        store.put_file("j/1/result", a_file(tmp_path, b"x"))
    assert not isinstance(raised.value, FileExistsError | FileNotFoundError)
    with pytest.raises(StorageUnavailable):
        store.read("j/1/result")
    assert not issubclass(StorageUnavailable, OSError)


@pytest.mark.aws
def test_s3_store_uses_the_sdk_configuration(
    moto_server: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a client handed in, the store finds S3 through AWS_ENDPOINT_URL and friends."""
    from adapters.aws.s3_artifacts import S3ArtifactStore
    from tests.support.aws import aws_env

    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in aws_env(moto_server.endpoint).items():
        monkeypatch.setenv(name, value)
    s3, bucket = new_bucket(moto_server)
    store = S3ArtifactStore(f"s3://{bucket}")
    store.put_file("j/1/result", a_file(tmp_path, b"via the environment"))
    assert s3.get_object(Bucket=bucket, Key="j/1/result")["Body"].read() == b"via the environment"
