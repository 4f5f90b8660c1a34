"""Artifacts in a local directory (the embedded default; adapters/aws/s3_artifacts.py keeps them
in S3 behind the same port)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from projections.ports import ArtifactStream

CHUNK_BYTES = 256 * 1024


def artifact_key_parts(key: str) -> tuple[str, ...]:
    """The parts of a relative artifact key; ValueError for an empty, absolute or `..` key."""
    parts = PurePosixPath(key).parts
    if not parts or key.startswith("/") or ".." in parts:
        raise ValueError(f"bad artifact key {key!r}")
    return parts


def file_chunks(file: BinaryIO, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The file's bytes in chunks; closes the file at the end (or when the iterator is closed)."""
    try:
        while chunk := file.read(chunk_bytes):
            yield chunk
    finally:
        file.close()


class LocalArtifactStore:
    """Write-once files under `root`, addressed by relative keys like `<job>/<attempt>/result`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*artifact_key_parts(key))

    def _open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except IsADirectoryError:  # a key's parent, not an artifact (as S3 would say)
            raise FileNotFoundError(f"no artifact under {key!r}") from None

    def put_file(self, key: str, path: str) -> str:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Copy to a temporary name, then link it in place: a reader never sees half a file, and
        # the link fails (FileExistsError) if the key holds a file already: nothing is replaced.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        os.close(fd)
        try:
            shutil.copyfile(path, tmp)
            os.link(tmp, target)
        finally:
            os.unlink(tmp)
        return key

    def read(self, key: str) -> bytes:
        with self._open(key) as file:
            return file.read()

    def stream(self, key: str) -> ArtifactStream:
        file = self._open(key)  # FileNotFoundError here, before any chunk
        return ArtifactStream(os.fstat(file.fileno()).st_size, file_chunks(file))
