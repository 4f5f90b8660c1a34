"""JSON nested deeper than MAX_DEPTH is refused before a decoder walks it.

msgspec (like every recursive decoder) recurses once per nesting level: 100,000 brackets raised
RecursionError deep inside a request, and a few hundred levels of stored data made every later
read and log line expensive. No body or message of this API needs more than a few levels, so the
bound is a small constant, checked with scans that run in C before any decoding.
"""

from __future__ import annotations

import re
from itertools import accumulate

MAX_DEPTH = 32

# A JSON string, escapes included (the unrolled form: linear, no backtracking).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


class TooDeep(ValueError):
    """A JSON document nests arrays and objects deeper than MAX_DEPTH."""

    def __init__(self, what: str = "the request body") -> None:
        super().__init__(
            f"{what} nests arrays and objects more than {MAX_DEPTH} levels deep; "
            f"send at most {MAX_DEPTH} levels"
        )


def too_deep(document: bytes | str, limit: int = MAX_DEPTH) -> bool:
    """Whether `document` (JSON text) nests deeper than `limit`; brackets inside strings do
    not count. Malformed text is left to the decoder, which refuses it."""
    data = document.encode() if isinstance(document, str) else document
    if data.count(b"[") + data.count(b"{") <= limit:
        return False  # the common case: two scans in C
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKET)
    return bool(brackets) and max(accumulate(map(_STEP.__getitem__, brackets))) > limit
