"""Artifacts in a local directory (the embedded default; S3 takes its place in production)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath


class LocalArtifactStore:
    """Write-once files under `root`, addressed by relative keys like `<job>/<attempt>/result`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        parts = PurePosixPath(key).parts
        if not parts or key.startswith("/") or ".." in parts:
            raise ValueError(f"bad artifact key {key!r}")
        return self.root.joinpath(*parts)

    def put_file(self, key: str, path: str) -> str:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Copy to a temporary name and rename, so a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        os.close(fd)
        try:
            shutil.copyfile(path, tmp)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return key

    def read(self, key: str) -> bytes:
        return self._path(key).read_bytes()
