"""Path parameters parsed by hand, so a malformed one is a 400 naming it, not a bare 404."""

from __future__ import annotations

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


def version_number(raw: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise BadParameter("version", f"{raw!r} is not a version number (1, 2, ...)")
    return int(raw)
