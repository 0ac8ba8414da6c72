"""HTTP conventions of /api/ that hold whatever the view: body size limits (413 before the
body is read), `Idempotency-Key` on POSTs, and ETags on reads."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import tempfile
from collections.abc import Callable
from typing import IO, Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.http.multipartparser import MultiPartParserError
from django.middleware.http import ConditionalGetMiddleware
from django.urls import Resolver404, resolve
from rest_framework import exceptions

from rxrevops.api.authentication import ApiTokenAuthentication
from rxrevops.api.problems import BodyTooLarge, problem_response
from rxrevops.services.idempotency import (
    idempotency_claim,
    idempotency_complete,
    idempotency_release,
)
from rxrevops.services.imports import MAX_UPLOAD_BYTES

API_PREFIX = "/api/"
# an upload endpoint's limit: the stored file's limit plus room for the multipart framing
# and the form's other fields
UPLOAD_BODY_BYTES = MAX_UPLOAD_BYTES + 1024 * 1024
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
KEY_PATTERN = r"[!-~]([ -~]*[!-~])?"  # printable ASCII, no outer spaces

GetResponse = Callable[[HttpRequest], HttpResponse]


def _too_large(limit: int) -> HttpResponse:
    return problem_response(
        status_code=413,
        detail=f"The request body is larger than this endpoint accepts ({limit} bytes).",
    )


class _CappedStream:
    """Reads a body of unknown length (chunked, no Content-Length), refusing it once it
    passes `limit` bytes instead of reading it whole first."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self.stream = stream
        self.limit = limit
        self.seen = 0

    def read(self, size: int = -1) -> bytes:
        # never ask for more than one byte past the limit: that byte is the proof
        room = self.limit - self.seen + 1
        chunk = self.stream.read(room if size is None or size < 0 else min(size, room))
        self.seen += len(chunk)
        if self.seen > self.limit:
            raise BodyTooLarge(
                f"The request body is larger than this endpoint accepts ({self.limit} bytes)."
            )
        return chunk

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


def _parameter_with_nul(request: HttpRequest) -> str | None:
    """The first query parameter holding a NUL: Postgres cannot store or compare one, so it
    would reach a filter as a 500 (body fields are refused by DRF's CharField already)."""
    if "%00" not in request.META.get("QUERY_STRING", "").upper():
        return None
    for name, values in request.GET.lists():
        if "\x00" in name or any("\x00" in v for v in values):
            return name.replace("\x00", "")
    return None


class ApiBodyLimitMiddleware:
    """400 for an /api/ request with a NUL in a query parameter; 413 for one whose
    Content-Length is over the endpoint's limit, before a byte of the body is read. A view
    may allow more with a `max_body_bytes` attribute (the import upload does). A chunked
    body is counted as it is read and refused the same way."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        nul = _parameter_with_nul(request)
        if nul is not None:
            return problem_response(
                status_code=400,
                detail=f"{nul}: Null characters are not allowed.",
                slug="validation-error",
                title="Invalid input",
                errors=[
                    {
                        "field": nul,
                        "message": "Null characters are not allowed.",
                        "code": "null_characters_not_allowed",
                    }
                ],
            )
        limit = self._limit(request)
        length = request.META.get("CONTENT_LENGTH")
        if length:
            try:
                declared = int(length)
            except ValueError:
                return problem_response(
                    status_code=400,
                    detail="The Content-Length header is not a number.",
                    slug="malformed-request",
                    title="Malformed request",
                )
            if declared > limit:
                return _too_large(limit)
        elif "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower() and (
            request.META.get("wsgi.input_terminated")
        ):
            # Django and DRF read no body without a Content-Length. A server that ends the
            # input stream itself (wsgi.input_terminated) lets it be read: counted as it
            # arrives, refused past the limit, then handed on with its length
            try:
                spool = _spool(_CappedStream(request.META["wsgi.input"], limit))
            except BodyTooLarge:
                return _too_large(limit)
            request.META["CONTENT_LENGTH"] = str(spool.seek(0, 2))
            spool.seek(0)
            request._stream = spool  # type: ignore[assignment]
        return self.get_response(request)

    @staticmethod
    def _limit(request: HttpRequest) -> int:
        from django.conf import settings

        default: int = settings.API_MAX_BODY_BYTES
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return default
        view_class = getattr(match.func, "view_class", None) or getattr(match.func, "cls", None)
        return int(getattr(view_class, "max_body_bytes", default))


# --- Idempotency-Key ---------------------------------------------------------------------------


def _principal(request: HttpRequest) -> str | None:
    """Who sends the request, as the key's owner: the token (its prefix) or the signed-in
    user. None when neither is valid: the view then answers 401/403 and nothing is stored."""
    try:
        found = ApiTokenAuthentication().authenticate(request)  # type: ignore[arg-type]
    except exceptions.AuthenticationFailed:
        return None
    if found is not None:
        return f"token:{found[1].prefix}"
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return None


def _spool(stream: Any) -> IO[bytes]:
    """A copy of the stream in a spooled file (memory, then disk), rewound."""
    spool = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115 (the request owns it)
    while chunk := stream.read(64 * 1024):
        spool.write(chunk)
    spool.seek(0)
    return spool


def _spool_body(request: HttpRequest) -> IO[bytes]:
    """Copy the body to a spooled file and let the view read that copy."""
    spool = _spool(request._stream)
    request._stream = spool  # type: ignore[assignment]
    request._read_started = False  # type: ignore[attr-defined]
    return spool


def _request_hash(request: HttpRequest) -> str:
    """sha256 of method, path and body. A form's body is hashed as parsed (fields sorted,
    files by content), since a client's retry frames it with a new multipart boundary; a
    JSON body as canonical JSON, since a retry may order keys differently."""
    digest = hashlib.sha256(f"{request.method}\n{request.get_full_path()}\n".encode())
    content_type = request.content_type or ""
    if content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        for name in sorted(request.POST):
            digest.update(json.dumps([name, request.POST.getlist(name)]).encode())
        for name in sorted(request.FILES):
            for upload in request.FILES.getlist(name):
                digest.update(json.dumps(["file", name, upload.name]).encode())
                for chunk in upload.chunks():
                    digest.update(chunk)
                upload.seek(0)
        return digest.hexdigest()
    spool = _spool_body(request)
    body = spool.read()
    spool.seek(0)
    if content_type.endswith("json"):
        # not JSON after all: the raw bytes, and the view answers 400
        with contextlib.suppress(ValueError):
            body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    digest.update(body)
    return digest.hexdigest()


def _key_error(message: str) -> HttpResponse:
    return problem_response(
        status_code=400,
        detail=f"{IDEMPOTENCY_HEADER}: {message}",
        slug="validation-error",
        title="Invalid input",
        errors=[{"field": IDEMPOTENCY_HEADER, "message": message, "code": "invalid"}],
    )


class IdempotencyMiddleware:
    """A POST under /api/ with `Idempotency-Key` runs once per key and caller: a retry with
    the same body gets the stored answer (`Idempotent-Replayed: true`), one with another
    body 409, one while the first still runs 409 with Retry-After."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if request.method != "POST" or key is None or not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        if len(key) > MAX_KEY_LENGTH:
            return _key_error(f"The key is longer than {MAX_KEY_LENGTH} characters.")
        if not re.fullmatch(KEY_PATTERN, key):
            return _key_error(
                "The key must be 1 to 255 printable ASCII characters, without leading or "
                "trailing spaces."
            )
        principal = _principal(request)
        if principal is None:
            return self.get_response(request)
        try:
            request_hash = _request_hash(request)
        except (BodyTooLarge, RequestDataTooBig) as exc:
            return problem_response(status_code=413, detail=str(exc))
        except (MultiPartParserError, TooManyFieldsSent) as exc:
            return problem_response(
                status_code=400,
                detail=f"The form could not be read: {exc}",
                slug="malformed-request",
                title="Malformed request body",
            )
        claim = idempotency_claim(
            principal=principal,
            key=key,
            method=request.method,
            path=request.get_full_path()[:2000],
            request_hash=request_hash,
        )
        record = claim.record
        if not claim.fresh:
            return self._answer_for_existing(record, request_hash)
        try:
            response = self.get_response(request)
        except BaseException:
            idempotency_release(record=record)
            raise
        if response.streaming:
            idempotency_release(record=record)
            return response
        idempotency_complete(
            record=record,
            status_code=response.status_code,
            headers=dict(response.items()),
            body=response.content,
        )
        return response

    @staticmethod
    def _answer_for_existing(record: Any, request_hash: str) -> HttpResponse:
        if record.request_hash != request_hash:
            return problem_response(
                status_code=409,
                detail=(
                    f"This {IDEMPOTENCY_HEADER} was used for a different request "
                    f"({record.method} {record.path} with another body). Use a new key."
                ),
                slug="idempotency-key-reused",
                title="Idempotency key reused",
            )
        if record.status_code is None:
            return problem_response(
                status_code=409,
                detail=(
                    f"A request with this {IDEMPOTENCY_HEADER} is still being processed. "
                    "Retry after it finishes."
                ),
                slug="idempotency-key-in-progress",
                title="Request in progress",
                headers={"Retry-After": "1"},
            )
        response = HttpResponse(bytes(record.body), status=record.status_code)
        for name, value in record.headers.items():
            response[name] = value
        response["Idempotent-Replayed"] = "true"
        return response


# --- ETags ---------------------------------------------------------------------------------


class ApiConditionalGetMiddleware(ConditionalGetMiddleware):
    """Django's ETag and If-None-Match handling (304 without a body), for /api/ only: the
    HTML pages carry a CSRF token and are not meant to be cached. Streamed responses pass
    untouched (Django computes no ETag for them)."""

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if not request.path.startswith(API_PREFIX):
            return response
        return super().process_response(request, response)
