"""A throwaway PostgreSQL server on a free loopback port, started from Debian's binaries."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from tests.support.ports import free_port


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if not found:
        raise RuntimeError(
            "PostgreSQL server binaries are missing; `make test` installs them "
            "(scripts/ensure-postgres.sh)"
        )
    return Path(found[-1]).parent


def _version(path: str) -> int:
    return int(Path(path).parent.parent.name)


def _as_owner(command: list[str]) -> list[str]:
    # initdb refuses to run as root: run the server as the 'postgres' system user then.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class PostgresServer:
    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.bindir = _bindir()

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        data, sock = self.root / "data", self.root / "sock"
        sock.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(sock, "postgres", "postgres")
        subprocess.run(
            _as_owner(
                [str(self.bindir / "initdb"), "-D", str(data), "-U", "postgres",
                 "--auth=trust", "-E", "UTF8", "--no-sync"]
            ),
            check=True, capture_output=True,
        )  # fmt: skip
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {sock} -c fsync=off"
        subprocess.run(
            _as_owner(
                [str(self.bindir / "pg_ctl"), "-D", str(data), "-l", str(self.root / "log"),
                 "-w", "-o", options, "start"]
            ),
            check=True, capture_output=True,
        )  # fmt: skip

    def stop(self) -> None:
        pg_ctl = str(self.bindir / "pg_ctl")
        stop = [pg_ctl, "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop"]
        subprocess.run(_as_owner(stop), check=False, capture_output=True)

    def new_database(self) -> str:
        """A fresh empty database; returns its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    root = Path(tempfile.mkdtemp(prefix="tradai-pg-"))
    server = PostgresServer(root, free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
