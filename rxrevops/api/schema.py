"""The OpenAPI description of the conventions every endpoint shares, added to each operation
here once instead of on each view: problem-details errors, Idempotency-Key on POSTs,
ETag / If-None-Match on GETs, Retry-After on 429."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from rxrevops.api.problems import PROBLEM_CONTENT_TYPE, TYPE_PREFIX

KEY_PATTERN = r"^[!-~]([ -~]{0,253}[!-~])?$"  # 1-255 printable ASCII, no outer spaces


class ProblemFieldErrorSerializer(serializers.Serializer[Any]):
    field = serializers.CharField(
        allow_null=True,
        help_text="the input's name, nested fields dotted (`medications.0.name`), a header's "
        "name (`Idempotency-Key`); null for the input as a whole",
    )
    message = serializers.CharField()
    code = serializers.CharField(help_text="machine-readable reason, e.g. `required`, `invalid`")


class ProblemDetailSerializer(serializers.Serializer[Any]):
    """An RFC 9457 problem: every 4xx/5xx answer of the API."""

    type = serializers.CharField(
        help_text=f"stable identifier of the kind of problem, `{TYPE_PREFIX}<slug>` "
        "(e.g. `/problems/validation-error`, `/problems/rate-limited`)"
    )
    title = serializers.CharField(help_text="short summary of the kind of problem")
    status = serializers.IntegerField(help_text="the HTTP status code")
    detail = serializers.CharField(help_text="what went wrong with this request")
    errors = ProblemFieldErrorSerializer(  # type: ignore[assignment]
        many=True, required=False, help_text="invalid input: one entry per field and message"
    )


_ERRORS_ALL = {
    "400": "Invalid input or malformed request (`errors` names each field)",
    "401": "No valid credentials",
    "403": "The token's scopes or the user's role do not allow this",
    "404": "Not found, or not visible to the caller",
    "406": "Cannot answer in a media type the Accept header allows",
    "429": "Rate limit reached (see Retry-After)",
}
_ERRORS_POST = {
    "409": "The Idempotency-Key was used for another request, or its request still runs",
    "413": "The request body is larger than the endpoint accepts",
    "415": "The Content-Type is not one the endpoint reads",
}


def _header(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"schema": schema or {"type": "string"}, "description": description}


class AutoSchema(SpectacularAutoSchema):
    def get_override_parameters(self) -> list[Any]:
        params = list(super().get_override_parameters())
        if self.method == "POST":
            params.append(
                OpenApiParameter(
                    "Idempotency-Key",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    pattern=KEY_PATTERN,
                    description=(
                        "Any unique string (e.g. a UUID) per logical request. A retry with the "
                        "same key and body gets the first answer (`Idempotent-Replayed: true`) "
                        "and writes nothing again; the same key with another body is 409. "
                        "Keys belong to the caller and are kept 24 hours."
                    ),
                )
            )
        if self.method == "GET":
            params.append(
                OpenApiParameter(
                    "If-None-Match",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    description="an ETag from an earlier answer: 304 without a body if unchanged",
                )
            )
        return params

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        errors = dict(_ERRORS_ALL)
        if self.method == "POST":
            errors.update(_ERRORS_POST)
        for code in sorted({*errors, *(c for c in responses if c >= "400")}):
            if "content" in responses.get(code, {}):
                continue  # the view documents a body of its own for this error
            response = self._get_response_for_code(
                ProblemDetailSerializer, code, media_types=[PROBLEM_CONTENT_TYPE]
            )
            # a view's own description of the error (without a body) is kept
            response["description"] = responses.get(code, {}).get("description") or errors.get(
                code, "Error (a problem-details body)"
            )
            responses[code] = response
        if self.method == "GET" and "304" not in responses:
            responses["304"] = {
                "description": "Not modified: the If-None-Match ETag still matches",
                "headers": {"ETag": _header("the answer's entity tag")},
            }
        return dict(sorted(responses.items()))

    def _get_response_headers_for_code(self, status_code: str, direction: Any = "response") -> Any:
        headers: dict[str, Any] = super()._get_response_headers_for_code(status_code, direction)
        if status_code == "429" or (status_code == "409" and self.method == "POST"):
            headers["Retry-After"] = _header(
                "seconds to wait before retrying", {"type": "integer", "minimum": 0}
            )
        if status_code.startswith("2"):
            if self.method == "GET":
                headers["ETag"] = _header("entity tag of the answer, for If-None-Match")
            if self.method == "POST":
                headers["Idempotent-Replayed"] = _header(
                    "`true` when this is the stored answer to an earlier request with the same "
                    "Idempotency-Key",
                    {"type": "string", "enum": ["true"]},
                )
        return headers
