"""Path parameters parsed by hand, so a malformed one is a 400 naming it, not a bare 404."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from litestar.openapi.spec import Example
from litestar.params import Parameter

from domain.strategy import STRATEGY_NAME, USER


class BadParameter(ValueError):
    """A path or query parameter that cannot be what its name says (400)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# The documented forms (`schema_extra`) are checked here by hand, so the 400 names the parameter
# in words; the document and these checks say the same thing.
_UUID_FORM = {"format": "uuid"}
VERSION_FORM = r"^[0-9]*[1-9][0-9]*$"

NamePath = Annotated[
    str,
    Parameter(
        description="strategy (class) name",
        max_length=64,
        schema_extra={"pattern": STRATEGY_NAME.pattern},  # registering checks it (422)
        examples=[Example(value="SampleEmaCross")],
    ),
]
UserPath = Annotated[
    str,
    Parameter(
        description="user (a token subject)",
        max_length=128,
        schema_extra={"pattern": USER.pattern},  # the command checks it (422)
        examples=[Example(value="bob")],
    ),
]
JobIdPath = Annotated[
    str, Parameter(description="backtest job id (UUID)", max_length=64, schema_extra=_UUID_FORM)
]
PromotionIdPath = Annotated[
    str, Parameter(description="promotion id (UUID)", max_length=64, schema_extra=_UUID_FORM)
]
SweepIdPath = Annotated[
    str, Parameter(description="sweep id (UUID)", max_length=64, schema_extra=_UUID_FORM)
]
VersionPath = Annotated[
    str,
    Parameter(
        description="version number (1, 2, ...)",
        max_length=12,
        schema_extra={"pattern": VERSION_FORM},
    ),
]
# Cursors are the base64url text this service hands out in `next_cursor`; one of that form that
# it did not hand out is 422 (app/problems.py).
Cursor = Annotated[
    str | None,
    Parameter(
        description="`next_cursor` of the previous page",
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9_-]+$",
    ),
]


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
    if not re.fullmatch(VERSION_FORM, raw):  # ASCII digits only: str.isdigit() takes '²'
        raise BadParameter("version", f"{raw!r} is not a version number (1, 2, ...)")
    return int(raw)


def instant(field: str, raw: str) -> datetime:
    """An ISO 8601 instant, in UTC; one without a zone is taken as UTC. RFC 3339 allows the
    `t` and `z` in lower case; an instant beyond year 1 or 9999 once in UTC is clamped there."""
    try:
        value = datetime.fromisoformat(raw.upper().replace("Z", "+00:00"))
    except ValueError:
        raise BadParameter(
            field, f"{raw!r} is not an ISO 8601 instant, e.g. 2026-11-24T09:30:00Z"
        ) from None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return (datetime.min if value.year == 1 else datetime.max).replace(tzinfo=UTC)
