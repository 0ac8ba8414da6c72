"""Every API error is an RFC 9457 problem: `application/problem+json` with `type`, `title`,
`status`, `detail`, and for invalid input `errors: [{"field", "message", "code"}]`.

`type` is a relative URI, `/problems/<slug>`: a stable identifier a client can switch on
(resolved against the API's own origin; the slugs never change meaning). `field` is the
input's name, nested fields and list items dotted (`medications.0.name`); an error about the
input as a whole has `field: null`. A header's error names the header (`Idempotency-Key`).
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_PREFIX = "/problems/"

_INDEX = re.compile(r"\[(\d+)\]")

# slug and title per status, for errors that carry no more specific type
_BY_STATUS: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Bad request"),
    401: ("not-authenticated", "Not authenticated"),
    403: ("permission-denied", "Permission denied"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    411: ("length-required", "Length required"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("rate-limited", "Too many requests"),
    500: ("server-error", "Server error"),
}
# DRF exception classes with a type of their own
_BY_EXCEPTION: list[tuple[type[exceptions.APIException], str, str]] = [
    (exceptions.ValidationError, "validation-error", "Invalid input"),
    (exceptions.ParseError, "malformed-request", "Malformed request body"),
]


class BodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class Conflict(exceptions.APIException):
    """A 409 with its own problem type (e.g. `idempotency-key-reused`)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"

    def __init__(self, detail: str, *, problem: str, title: str, wait: int | None = None):
        super().__init__(detail)
        self.problem = problem
        self.title = title
        self.wait = wait


def problem_type(slug: str) -> str:
    return TYPE_PREFIX + slug


def field_errors(detail: Any, prefix: str | None = None) -> list[dict[str, Any]]:
    """DRF's nested error structure as a flat list, each error naming its dotted field."""
    out: list[dict[str, Any]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key in ("non_field_errors", "__all__"):
                out.extend(field_errors(value, prefix))
            else:
                # a service names list items `problems[0].reason_code`; the API says
                # `problems.0.reason_code`, as for a nested serializer's errors
                name = _INDEX.sub(r".\1", str(key))
                out.extend(field_errors(value, f"{prefix}.{name}" if prefix else name))
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, (dict, list)):
                # a list of objects (many=True): the item's index is part of the path
                out.extend(field_errors(value, f"{prefix}.{index}" if prefix else str(index)))
            else:
                out.extend(field_errors(value, prefix))
    elif detail is not None:
        out.append(
            {"field": prefix, "message": str(detail), "code": getattr(detail, "code", "invalid")}
        )
    return out


def problem_body(
    *,
    status_code: int,
    detail: str,
    slug: str | None = None,
    title: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    default_slug, default_title = _BY_STATUS.get(
        status_code, (f"http-{status_code}", f"HTTP {status_code}")
    )
    body: dict[str, Any] = {
        "type": problem_type(slug or default_slug),
        "title": title or default_title,
        "status": status_code,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return body


def problem_response(
    *, status_code: int, detail: str, headers: dict[str, str] | None = None, **kwargs: Any
) -> HttpResponse:
    """A plain Django response (for middleware and Django-level handlers)."""
    response = JsonResponse(
        problem_body(status_code=status_code, detail=detail, **kwargs),
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE,
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _validation_detail(errors: list[dict[str, Any]]) -> str:
    if len(errors) == 1:
        e = errors[0]
        return f"{e['field']}: {e['message']}" if e["field"] else e["message"]
    fields = sorted({e["field"] or "(request)" for e in errors})
    return f"{len(errors)} problems with the input: {', '.join(fields)}."


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, its answers reshaped as problem details. Django's ValidationError from
    a service is the caller's input being refused, so it is a 400 too, never a 500."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a 500: Django's handler500 answers it as a problem under /api/
    if not isinstance(exc, exceptions.APIException):  # DRF answered only APIExceptions
        return response
    slug = title = None
    for cls, cls_slug, cls_title in _BY_EXCEPTION:
        if isinstance(exc, cls):
            slug, title = cls_slug, cls_title
    if isinstance(exc, Conflict):
        slug, title = exc.problem, exc.title
    errors: list[dict[str, Any]] | None = None
    if isinstance(exc, exceptions.ValidationError):
        errors = field_errors(exc.detail)
        detail = _validation_detail(errors) if errors else "Invalid input."
    elif isinstance(exc.detail, (list, dict)):
        errors = field_errors(exc.detail)
        detail = _validation_detail(errors)
    else:
        detail = str(exc.detail)
    response.data = problem_body(
        status_code=response.status_code, detail=detail, slug=slug, title=title, errors=errors
    )
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


# --- Django-level answers under /api/ (no DRF view ran: unknown URL, crash) -------------------


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def api_or_default(status_code: int, detail: str, default: Any) -> Any:
    """A handler4xx/500 that answers problem JSON under /api/ and Django's page elsewhere."""

    def handler(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
        if _is_api(request):
            return problem_response(status_code=status_code, detail=detail)
        if exception is None:
            return default(request)  # type: ignore[no-any-return,unused-ignore]
        return default(request, exception)  # type: ignore[no-any-return,unused-ignore]

    return handler
