"""Opaque list cursors shared by the read stores, so every store pages the same way."""

from __future__ import annotations

import base64
from uuid import UUID

from commands.views import BacktestJobView
from projections.ports import BadCursor


def job_sort_key(view: BacktestJobView) -> int:
    """Newest first: microseconds since the epoch of the submission."""
    return int(view.submitted_at.timestamp() * 1_000_000)


def encode(sort_key: int | str, tiebreak: str) -> str:
    raw = f"{sort_key}|{tiebreak}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_job_cursor(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        key, tiebreak = raw.split("|", 1)
        UUID(tiebreak)
        return int(key), tiebreak
    except (ValueError, UnicodeDecodeError):
        raise BadCursor("cursor is not one this service returned; start again without it") from None


def decode_name_cursor(cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        key, _ = raw.split("|", 1)
        return key
    except (ValueError, UnicodeDecodeError):
        raise BadCursor("cursor is not one this service returned; start again without it") from None


def decode_seq_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return int(raw.split("|", 1)[0])
    except (ValueError, UnicodeDecodeError):
        raise BadCursor("cursor is not one this service returned; start again without it") from None
