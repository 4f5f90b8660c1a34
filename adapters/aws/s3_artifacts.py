"""Run artifacts in S3 (BACKEND_ARTIFACTS_URL=s3://bucket/prefix): the artifact port of
adapters/artifact_store.py, with the same keys under the prefix."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from typing import Any

from adapters.artifact_store import CHUNK_BYTES, artifact_key_parts
from adapters.aws.s3 import ERRORS, MISSING, TAKEN, S3Client, StorageUnavailable, error_code
from adapters.aws.s3_url import S3Url
from projections.ports import ArtifactStream


class S3ArtifactStore:
    """Write-once objects under the URL's prefix, addressed by keys like `<job>/<attempt>/result`.

    Write-once is S3's own conditional write (`If-None-Match: *`): a key that holds an object
    is never replaced, even by two writers racing."""

    def __init__(self, url: str, client: Any | None = None) -> None:
        self.location = S3Url.parse(url)
        self._client = S3Client(client)

    def _key(self, key: str) -> str:
        return self.location.key(*artifact_key_parts(key))

    def put_file(self, key: str, path: str) -> str:
        name = self._key(key)
        with open(path, "rb") as body:  # one PUT streamed from the file (S3 takes up to 5 GB)
            try:
                self._client().put_object(
                    Bucket=self.location.bucket, Key=name, Body=body, IfNoneMatch="*"
                )
            except ERRORS as error:
                where = self.location.uri(name)
                if error_code(error) in TAKEN:
                    raise FileExistsError(
                        errno.EEXIST, "an artifact is stored under this key already", where
                    ) from None
                raise OSError(f"could not store {where}: {error}") from error
        return key

    def read(self, key: str) -> bytes:
        stream = self.stream(key)
        try:
            return b"".join(stream.chunks)
        except ERRORS as error:
            raise StorageUnavailable(
                f"reading {self.location.uri(self._key(key))}: {error}"
            ) from error

    def stream(self, key: str) -> ArtifactStream:
        name = self._key(key)
        try:
            response = self._client().get_object(Bucket=self.location.bucket, Key=name)
        except ERRORS as error:
            where = self.location.uri(name)
            if error_code(error) in MISSING:
                raise FileNotFoundError(errno.ENOENT, "no artifact under this key", where) from None
            raise StorageUnavailable(f"reading {where}: {error}") from error
        return ArtifactStream(int(response["ContentLength"]), _chunks(response["Body"]))


def _chunks(body: Any) -> Iterator[bytes]:
    """The object's bytes as S3 sends them; the connection goes back to the pool at the end."""
    try:
        yield from body.iter_chunks(CHUNK_BYTES)
    finally:
        body.close()
