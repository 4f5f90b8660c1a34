"""Bounds on `parameters` a client sends (a backtest's, a version's, a sweep's space): flat
values of bounded size, so no request can make the service store, render or walk deep data.

Only new input is checked (commands call this); events already stored keep what they hold.
"""

from __future__ import annotations

from collections.abc import Mapping

from domain.errors import InvalidValue

MAX_ENTRIES = 64  # names in one `parameters` object
MAX_NAME_LENGTH = 64
MAX_STRING_LENGTH = 1000
MAX_LIST_ITEMS = 64

_SCALARS = (str, int, float, bool)


def check_parameters(
    field: str, parameters: Mapping[str, object], *, lists: bool = True, max_items: int = 0
) -> None:
    """Refuse (InvalidValue naming `field.<name>`) a `parameters` object with more than
    MAX_ENTRIES names, a name longer than MAX_NAME_LENGTH, or a value other than a scalar
    (str, int, float, bool, null) or, when `lists`, a list of scalars; strings hold at most
    MAX_STRING_LENGTH characters, lists at most `max_items` (MAX_LIST_ITEMS by default)."""
    if len(parameters) > MAX_ENTRIES:
        raise InvalidValue(
            field, f"{len(parameters)} entries: at most {MAX_ENTRIES} parameters are accepted"
        )
    for name, value in parameters.items():
        if not name or len(name) > MAX_NAME_LENGTH:
            raise InvalidValue(
                field, f"parameter names have 1 to {MAX_NAME_LENGTH} characters: {name[:80]!r}"
            )
        where = f"{field}.{name}"
        if isinstance(value, list) and lists:
            limit = max_items or MAX_LIST_ITEMS
            if len(value) > limit:
                raise InvalidValue(where, f"{len(value)} items: a list holds at most {limit}")
            for item in value:
                _check_scalar(where, item, "a list's items are")
        else:
            what = "a value is" if not lists else "a value is a list of scalars or"
            _check_scalar(where, value, what)


def _check_scalar(where: str, value: object, what: str) -> None:
    if value is not None and not isinstance(value, _SCALARS):
        kind = "an object" if isinstance(value, Mapping) else f"a {type(value).__name__}"
        raise InvalidValue(
            where, f"{what} a string, number, true, false or null, not {kind} (nothing nested)"
        )
    if isinstance(value, str) and len(value) > MAX_STRING_LENGTH:
        raise InvalidValue(
            where, f"a string of {len(value)} characters: at most {MAX_STRING_LENGTH} are accepted"
        )


MAX_SHOWN_DEPTH = 16  # levels of an old, stored value that views still show
NOT_SHOWN = f"(nested deeper than {MAX_SHOWN_DEPTH} levels: not shown; the event keeps it)"


def shown_parameters(parameters: Mapping[str, object]) -> dict[str, object]:
    """`parameters` as a view shows them: a value registered before the bounds, nested deeper
    than MAX_SHOWN_DEPTH, is replaced by NOT_SHOWN (its depth measured without recursion), so
    every later read, encoding and log line of the view stays cheap."""
    return {
        name: NOT_SHOWN if _deeper_than(value, MAX_SHOWN_DEPTH) else value
        for name, value in parameters.items()
    }


def _deeper_than(value: object, limit: int) -> bool:
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping | list | tuple):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, Mapping) else item
            stack.extend((child, depth + 1) for child in children)
    return False
