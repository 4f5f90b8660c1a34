"""Every error as RFC 9457 problem details: a status, a title, a detail a person can act on."""

from __future__ import annotations

import logging
import re
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR, HTTP_503_SERVICE_UNAVAILABLE

from app.params import BadParameter
from commands.errors import (
    ConcurrencyConflict,
    IdempotencyKeyReused,
    NotFound,
    NotOwner,
    QuotaExceeded,
    UnknownReference,
)
from domain.errors import IllegalTransition, InvalidValue, NotPermitted, UnknownItem
from domain.promotion import GatesFailed
from projections.json_depth import TooDeep
from projections.ports import BadCursor, StorageUnavailable

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://tradai.dev/problems/"

TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable request",
    429: "Too many requests",
    500: "Internal error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}
# msgspec says "... - at `$.pairs[0]`"; the field is the part after `$.`.
_AT_PATH = re.compile(r"^(?P<message>.*?)(?: - at `\$\.?(?P<path>[^`]*)`)?$", re.S)


class ResultNotReady(Exception):
    """A job's result, trades or equity were asked for before they exist (409)."""


class FieldProblem(msgspec.Struct, frozen=True):
    field: str
    message: str


class GateResult(msgspec.Struct, frozen=True):
    name: str
    passed: bool
    actual: Any
    threshold: Any


class Problem(msgspec.Struct, frozen=True, omit_defaults=True):
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldProblem] = []
    gates: list[GateResult] = []


def problem(
    request: Request[Any, Any, Any] | None,
    status: int,
    detail: str,
    slug: str,
    errors: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
    gates: list[GateResult] | None = None,
) -> Response[Problem]:
    body = Problem(
        type=TYPE_BASE + slug,
        title=TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        instance=request.url.path if request is not None else None,
        errors=errors or [],
        gates=gates or [],
    )
    return Response(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _field_problems(extra: Any) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    for item in extra if isinstance(extra, list) else []:
        if not isinstance(item, dict):
            continue
        raw = str(item.get("message", "invalid value"))
        match = _AT_PATH.match(raw)
        message = match.group("message") if match else raw
        path = match.group("path") if match and match.group("path") else ""
        key = str(item.get("key") or "")
        field = ".".join(p for p in (key if key not in ("", "data") else "", path) if p)
        problems.append(FieldProblem(field=field or "body", message=_humane(message)))
    return problems


def _humane(message: str) -> str:
    return message.replace("`", "'")


def on_validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Problem]:
    errors = _field_problems(exc.extra)
    fields = ", ".join(e.field for e in errors) or "the request"
    detail = f"invalid value in {fields}"
    if errors and len(errors) == 1:
        detail = f"{errors[0].field}: {errors[0].message}"
    return problem(request, 400, detail, "invalid-request", errors)


def on_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Problem]:
    status = exc.status_code
    if status >= 500:
        log.error("server error on %s %s: %s", request.method, request.url.path, exc.detail)
        return problem(
            request, status, "the server could not answer; try again later", "server-error"
        )
    detail = exc.detail or TITLES.get(status, "error")
    if isinstance(exc.__cause__, SerializationException):
        detail = f"the body is not valid JSON: {exc.detail}"
        return problem(request, 400, detail, "malformed-body", [FieldProblem("body", detail)])
    if status == 413:
        detail = (
            f"the request body is larger than the {request.app.state.max_body_bytes} bytes accepted"
        )
    slug = {
        401: "unauthenticated",
        403: "forbidden",
        404: "not-found",
        405: "method-not-allowed",
        429: "rate-limited",
    }.get(status, "client-error")
    headers = dict(exc.headers or {})  # e.g. 405's Allow, 429's Retry-After
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="tradai"'
    return problem(request, status, detail, slug, headers=headers or None)


def on_invalid_value(request: Request[Any, Any, Any], exc: InvalidValue) -> Response[Problem]:
    errors = [FieldProblem(field=exc.field, message=exc.message)]
    return problem(request, 422, str(exc), "invalid-value", errors)


def on_unknown_reference(
    request: Request[Any, Any, Any], exc: UnknownReference
) -> Response[Problem]:
    errors = [FieldProblem(field=exc.field, message=exc.message)]
    return problem(request, 422, str(exc), "unknown-reference", errors)


def on_not_found(request: Request[Any, Any, Any], exc: NotFound) -> Response[Problem]:
    return problem(request, 404, str(exc), "not-found")


def on_illegal(request: Request[Any, Any, Any], exc: IllegalTransition) -> Response[Problem]:
    return problem(request, 409, str(exc), "illegal-transition")


def on_conflict(request: Request[Any, Any, Any], exc: ConcurrencyConflict) -> Response[Problem]:
    return problem(request, 409, str(exc), "concurrency-conflict")


def on_key_reused(request: Request[Any, Any, Any], exc: IdempotencyKeyReused) -> Response[Problem]:
    errors = [FieldProblem(field="Idempotency-Key", message=str(exc))]
    return problem(request, 422, str(exc), "idempotency-key-reused", errors)


def on_bad_parameter(request: Request[Any, Any, Any], exc: BadParameter) -> Response[Problem]:
    return problem(
        request, 400, str(exc), "invalid-parameter", [FieldProblem(exc.field, exc.message)]
    )


def on_bad_cursor(request: Request[Any, Any, Any], exc: BadCursor) -> Response[Problem]:
    """A cursor of the documented form that this service did not issue: its form is checked
    with the other parameters (400); what it points at is not there (422)."""
    return problem(request, 422, str(exc), "bad-cursor", [FieldProblem("cursor", str(exc))])


def on_not_ready(request: Request[Any, Any, Any], exc: ResultNotReady) -> Response[Problem]:
    return problem(request, 409, str(exc), "result-not-ready")


def on_gates_failed(request: Request[Any, Any, Any], exc: GatesFailed) -> Response[Problem]:
    gates = [GateResult(g.name, g.passed, g.actual, g.threshold) for g in exc.gates]
    errors = [
        FieldProblem(f"gates.{g.name}", f"actual {g.actual!r}, required {g.threshold!r}")
        for g in exc.gates
        if not g.passed
    ]
    return problem(request, 422, str(exc), "gates-failed", errors, gates=gates)


def on_not_permitted(request: Request[Any, Any, Any], exc: NotPermitted) -> Response[Problem]:
    """Four eyes: the role is right, the person is not (a requester never approves)."""
    return problem(request, 403, str(exc), "four-eyes")


def on_quota(request: Request[Any, Any, Any], exc: QuotaExceeded) -> Response[Problem]:
    return problem(request, 429, str(exc), "quota", headers={"Retry-After": "30"})


def on_not_owner(request: Request[Any, Any, Any], exc: NotOwner) -> Response[Problem]:
    """The role is right, but the strategy, job or sweep is someone else's."""
    return problem(request, 403, str(exc), "not-owner")


def on_unknown_item(request: Request[Any, Any, Any], exc: UnknownItem) -> Response[Problem]:
    return problem(request, 404, str(exc), "not-found")


def on_storage_unavailable(
    request: Request[Any, Any, Any], exc: StorageUnavailable
) -> Response[Problem]:
    log.error("storage unavailable on %s %s: %s", request.method, request.url.path, exc)
    return problem(
        request,
        HTTP_503_SERVICE_UNAVAILABLE,
        "the artifact or market-data store does not answer right now; try again in a minute",
        "storage-unavailable",
        headers={"Retry-After": "30"},
    )


def on_too_deep(request: Request[Any, Any, Any], exc: TooDeep) -> Response[Problem]:
    return problem(request, 400, str(exc), "too-deep", [FieldProblem("body", str(exc))])


def on_exhausted(
    request: Request[Any, Any, Any], exc: RecursionError | MemoryError
) -> Response[Problem]:
    """Input too deep or too large to process: the request's fault, answered cheaply (one
    line in the log, no traceback: rendering one of thousands of frames was the cost)."""
    log.warning(
        "%s on %s %s: refused as too complex", type(exc).__name__, request.method, request.url.path
    )
    detail = "the request is nested too deeply or is too large to process; send simpler data"
    return problem(request, 400, detail, "too-complex", [FieldProblem("body", detail)])


def on_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        "the server failed to answer; the error is logged for the operators",
        "server-error",
    )


EXCEPTION_HANDLERS: dict[int | type[Exception], Any] = {
    ValidationException: on_validation,
    HTTPException: on_http,
    InvalidValue: on_invalid_value,
    UnknownReference: on_unknown_reference,
    NotFound: on_not_found,
    IllegalTransition: on_illegal,
    ConcurrencyConflict: on_conflict,
    IdempotencyKeyReused: on_key_reused,
    BadCursor: on_bad_cursor,
    BadParameter: on_bad_parameter,
    ResultNotReady: on_not_ready,
    GatesFailed: on_gates_failed,
    NotPermitted: on_not_permitted,
    NotOwner: on_not_owner,
    QuotaExceeded: on_quota,
    UnknownItem: on_unknown_item,
    StorageUnavailable: on_storage_unavailable,
    TooDeep: on_too_deep,
    RecursionError: on_exhausted,
    MemoryError: on_exhausted,
    Exception: on_unexpected,
}
