"""Files only the service may read: the embedded SQLite databases (and the JWT secret)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def private_sqlite_file(path: Path) -> None:
    """Create the database file with mode 0600 before SQLite opens it (SQLite gives its -wal
    and -shm files the database's own mode), and tighten files an older version left open."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm", f"{path.name}-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path.with_name(name), 0o600)


def sqlite_path(url: str) -> Path | None:
    """The file of a `sqlite:///path` URL; None for other URLs and in-memory databases."""
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix):
            rest = url.removeprefix(prefix).split("?", 1)[0]
            return Path(rest) if rest and rest != ":memory:" else None
    return None
