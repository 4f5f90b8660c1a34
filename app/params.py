"""Path parameters parsed by hand, so a malformed one is a 400 naming it, not a bare 404."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from litestar.params import Parameter


class BadParameter(ValueError):
    """A path or query parameter that cannot be what its name says (400)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


JobIdPath = Annotated[str, Parameter(description="backtest job id (UUID)", max_length=64)]
VersionPath = Annotated[str, Parameter(description="version number (1, 2, ...)", max_length=12)]


def job_id(raw: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise BadParameter("job_id", f"{raw!r} is not a job id (a UUID)") from None


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def job_key(raw: str) -> str:
    """A job id in the read model's key form (lower-case, hyphenated); a 400 unless a UUID.
    Ids as this service writes them pass a pattern check rather than a UUID round trip."""
    if _CANONICAL_UUID.fullmatch(raw):
        return raw
    return str(job_id(raw))


def version_number(raw: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise BadParameter("version", f"{raw!r} is not a version number (1, 2, ...)")
    return int(raw)


def instant(field: str, raw: str) -> datetime:
    """An ISO 8601 instant; one without a zone is taken as UTC."""
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadParameter(
            field, f"{raw!r} is not an ISO 8601 instant, e.g. 2026-11-24T09:30:00Z"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
