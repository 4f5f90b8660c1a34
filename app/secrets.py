"""The JWT secret: from the setting, or generated once per data directory for local use."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile

from app.settings import Settings


def jwt_secret(settings: Settings) -> str:
    """The HS256 secret the API verifies with and `tradai token` signs with."""
    if settings.jwt_secret:
        return settings.jwt_secret
    path = settings.data_path / "jwt-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".jwt-secret-")
        try:
            os.write(fd, secrets.token_hex(32).encode())
            os.close(fd)
            # link() fails if another process created the secret first; theirs wins.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            os.unlink(tmp)
    return path.read_text().strip()
