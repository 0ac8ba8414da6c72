"""HL7 v2 over HTTP: `POST /api/v1/hl7/` with one ER7 message as the body, answered with its
ACK as the body.

The ACK carries the outcome, so every message that arrives is answered 200, AE and AR
included; a 4xx is a transport problem only: no or a bad token (401), a token without the
scope the message type needs (403: RDS and ADT need claims:write, VXU clinical:write), a
body that is not HL7 text (415) or is too large (413).
"""

from __future__ import annotations

from typing import IO, Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.views import APIView

from integrations.hl7.mllp import DEFAULT_MAX_FRAME
from integrations.models import Hl7Message
from integrations.services.hl7 import hl7_organization_for, hl7_receive
from rxrevops.api.permissions import ScopeOrRole
from rxrevops.models import Scope

HL7_MEDIA_TYPE = "x-application/hl7-v2+er7"
MAX_BODY_BYTES = DEFAULT_MAX_FRAME


class MessageTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = f"An HL7 message is at most {MAX_BODY_BYTES} bytes."
    default_code = "too_large"


class _Hl7TextParser(BaseParser):
    """The body as text (UTF-8 unless the content type names a charset; a byte that is not
    text becomes U+FFFD rather than an error: the ACK will say what is wrong)."""

    def parse(
        self, stream: IO[bytes] | None, media_type: str | None = None, parser_context: Any = None
    ) -> Any:  # the text itself: DRF's stub wants a mapping, request.data is whatever we return
        raw = stream.read(MAX_BODY_BYTES + 1) if stream is not None else b""
        if len(raw) > MAX_BODY_BYTES:
            raise MessageTooLarge()
        charset = "utf-8"
        for part in (media_type or "").split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.lower() == "charset" and value:
                charset = value.strip('"')
        try:
            return raw.decode(charset, errors="replace")
        except LookupError:
            return raw.decode("utf-8", errors="replace")


class Hl7Er7Parser(_Hl7TextParser):
    media_type = HL7_MEDIA_TYPE


class PlainTextParser(_Hl7TextParser):
    media_type = "text/plain"


SAMPLE = (
    "MSH|^~\\&|PMS|5500001|RxRevOps|RXREVOPS|20261001120000||ADT^A08^ADT_A01|ADT-1|P|2.5.1\r"
    "EVN|A08|20261001120000\rPID|1||P100^^^STORE^MR||Testperson^Synthia||19600201|F\r"
    "PV1|1|N\r"
)


class Hl7Receive(APIView):
    """Receive one HL7 v2 message (RDS^O13, VXU^V04 or ADT^A08) and answer its ACK."""

    parser_classes = [Hl7Er7Parser, PlainTextParser]
    permission_classes = [ScopeOrRole]
    # any of them lets the request in; the message type's own scope is checked once read
    required_scope = (Scope.CLAIMS_WRITE, Scope.CLINICAL_WRITE)
    max_body_bytes = MAX_BODY_BYTES

    @extend_schema(
        operation_id="hl7_receive",
        request={HL7_MEDIA_TYPE: OpenApiTypes.STR, "text/plain": OpenApiTypes.STR},
        responses={
            (200, HL7_MEDIA_TYPE): OpenApiResponse(
                OpenApiTypes.STR,
                description="The ACK (MSA-1 AA, AE or AR; ERR segments name each problem), "
                "in the request's content type.",
            ),
            (200, "text/plain"): OpenApiResponse(
                OpenApiTypes.STR, description="The ACK, for a text/plain request."
            ),
            403: OpenApiResponse(description="The token lacks the message type's scope."),
            415: OpenApiResponse(
                description="The body is not x-application/hl7-v2+er7 or text/plain."
            ),
        },
        examples=[OpenApiExample("ADT^A08", value=SAMPLE, request_only=True)],
        description=(
            "One HL7 v2 message in ER7 as the body. RDS^O13 pushes fills (claims:write), "
            "VXU^V04 records immunizations (clinical:write), ADT^A08 updates a patient "
            "(claims:write). MSH-4 is the store's NCPDP ID or NPI. The answer is the ACK, "
            "200 whatever its MSA-1; the same message sent again gets the same ACK."
        ),
    )
    def post(self, request: Request) -> HttpResponse:
        # DRF gives an empty body as an empty mapping without asking a parser
        text = request.data if isinstance(request.data, str) else ""
        user = request.user
        organization = hl7_organization_for(principal=user, text=text)
        if organization is None:
            raise exceptions.PermissionDenied("You belong to no organization.")
        message, ack = hl7_receive(
            organization=organization,
            text=text,
            transport=Hl7Message.Transport.HTTP,
            principal=user,
        )
        media_type = (
            HL7_MEDIA_TYPE if request.content_type.startswith(HL7_MEDIA_TYPE) else ("text/plain")
        )
        response = HttpResponse(ack, content_type=f"{media_type}; charset=utf-8")
        response["X-HL7-Outcome"] = message.outcome
        return response
