"""The claims API: patients (read, and pushed by a PMS), and the PMS push of fills and
reversals (`POST /api/v1/fills/`, `/fills/bulk/`, `/fills/reversals/`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import msgspec
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.exceptions import APIException, NotFound, ParseError
from rest_framework.fields import get_error_detail
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from claims.ingest.profiles import REQUIRED
from claims.models import Patient
from claims.selectors import patient_get_for_user, patient_list_for_user
from claims.services.fill_push import (
    ITEM_STATUSES,
    REVERSAL_AMOUNTS,
    ItemResult,
    OriginalNotFound,
    canonical_columns,
    fill_reversal_push,
    push_fills,
)
from claims.services.patients import SEXES, patient_upsert
from rxrevops.access import Principal, location_ids_for_user, require_role_or_scope
from rxrevops.api.permissions import ScopeOrRole
from rxrevops.api.problems import BodyTooLarge
from rxrevops.models import AuditEvent, Location, Role, Scope
from rxrevops.services.audit import audit_record

PATIENT_ROLES = [Role.OWNER, Role.PHARMACIST, Role.TECHNICIAN, Role.REVENUE]


# --- PMS push: fills, reversals, patients --------------------------------------------------

# who may push: an integration's token with claims:write, or a person with one of these roles
# at the location (the roles that upload PMS exports)
PUSH_ROLES = (Role.OWNER, Role.REVENUE, Role.PHARMACIST)
PUSH_SOURCE = "api"


class ExactJSONParser(BaseParser):
    """JSON with its numbers kept exact: 12.30 arrives as Decimal("12.30"), never through a
    binary float (money is dollars in the body). Reads at most the view's `max_body_bytes`
    (default Django's DATA_UPLOAD_MAX_MEMORY_SIZE): a bulk push is larger than Django's
    default allows, which DRF's own JSON parser would enforce."""

    media_type = "application/json"

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        view = (parser_context or {}).get("view")
        limit = int(
            getattr(view, "max_body_bytes", None) or settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
        )
        if stream is None:
            raise ParseError("JSON parse error - the body is empty")
        body = stream.read(limit + 1) if limit else stream.read()
        if limit and len(body) > limit:
            raise BodyTooLarge(
                f"The request body is larger than this endpoint accepts ({limit} bytes)."
            )
        try:
            return _EXACT_JSON.decode(body)
        except msgspec.DecodeError:
            pass  # what msgspec refuses, the standard library may read (an escaped lone
            # surrogate, NaN) and otherwise explains better: its answer stands, as before
        try:
            return json.loads(body, parse_float=Decimal)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None


_EXACT_JSON = msgspec.json.Decoder(float_hook=Decimal)


class TooManyFills(APIException):
    status_code = 413
    default_detail = "Too many fills in one request."
    default_code = "too_many_fills"


@extend_schema_field(
    {
        "oneOf": [{"type": "integer"}, {"type": "string"}],
        "description": "the location's id (an integer) or its NCPDP ID (a string); may be "
        "left out by a caller that reaches one location",
    }
)
class LocationRefField(serializers.Field[Any, Any, Any, Any]):
    def to_internal_value(self, data: Any) -> Any:
        return data

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "number"}]})
class TextOrNumberField(serializers.Field[Any, Any, Any, Any]):
    """Documents a canonical column: text, or a JSON number where the column is numeric."""

    def to_internal_value(self, data: Any) -> Any:
        return data

    def to_representation(self, value: Any) -> Any:
        return value


def _fill_fields() -> dict[str, serializers.Field[Any, Any, Any, Any]]:
    required = set(REQUIRED)
    return {
        name: TextOrNumberField(
            required=name in required, help_text=f"canonical PMS column `{name}`"
        )
        for name in canonical_columns()
    }


# one fill: the canonical PMS columns of docs/formats.md (documentation of the body; the
# items are validated set-based by the push service, not field by field here)
FillSerializer = type("FillSerializer", (serializers.Serializer,), _fill_fields())
FillPushSerializer = type(
    "FillPushSerializer",
    (serializers.Serializer,),
    {**_fill_fields(), "location": LocationRefField(required=False)},
)


class FillBulkPushSerializer(serializers.Serializer[Any]):
    location = LocationRefField(required=False)
    fills = FillSerializer(many=True, help_text="at most FILL_PUSH_MAX_ITEMS (default 5,000)")


class ItemErrorSerializer(serializers.Serializer[Any]):
    field = serializers.CharField()
    value = serializers.CharField(allow_blank=True)
    reason = serializers.CharField()


class ItemResultSerializer(serializers.Serializer[Any]):
    index = serializers.IntegerField(help_text="the item's position in the request, from 0")
    status = serializers.ChoiceField(choices=list(ITEM_STATUSES))
    fill_id = serializers.IntegerField(allow_null=True)
    errors = ItemErrorSerializer(many=True)  # type: ignore[assignment]


class FillPushResultSerializer(ItemResultSerializer):
    job = serializers.IntegerField(help_text="the job recording the push (GET /api/v1/jobs/{id}/)")


class PushCountsSerializer(serializers.Serializer[Any]):
    read = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    rejected = serializers.IntegerField()


class FillBulkResultSerializer(serializers.Serializer[Any]):
    job = serializers.IntegerField()
    counts = PushCountsSerializer()
    items = ItemResultSerializer(many=True)


class FillReversalSerializer(serializers.Serializer[Any]):
    location = LocationRefField(required=False)
    rx_number = serializers.IntegerField(min_value=0, max_value=10**15 - 1)
    fill_number = serializers.IntegerField(min_value=0, max_value=10**9 - 1)
    date_of_service = serializers.DateField()
    transaction_date = serializers.DateField(
        required=False, help_text="the day the reversal was posted (default: today)"
    )
    usual_and_customary = serializers.DecimalField(max_digits=17, decimal_places=2, required=False)
    ingredient_cost_paid = serializers.DecimalField(max_digits=17, decimal_places=2, required=False)
    dispensing_fee_paid = serializers.DecimalField(max_digits=17, decimal_places=2, required=False)
    patient_pay_amount = serializers.DecimalField(max_digits=17, decimal_places=2, required=False)
    total_amount_paid = serializers.DecimalField(max_digits=17, decimal_places=2, required=False)
    acquisition_cost = serializers.DecimalField(max_digits=17, decimal_places=2, required=False)


class PatientPushSerializer(serializers.Serializer[Any]):
    location = LocationRefField(required=False)
    pms_patient_id = serializers.CharField(max_length=40)
    first_name = serializers.CharField(max_length=100, required=False)
    last_name = serializers.CharField(max_length=100, required=False)
    date_of_birth = serializers.DateField(required=False)
    sex = serializers.ChoiceField(choices=list(SEXES), required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=10, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    med_sync_enrolled = serializers.BooleanField(required=False)
    med_sync_day = serializers.IntegerField(
        min_value=1, max_value=31, required=False, allow_null=True
    )


def _refuse_unknown(data: Any, allowed: Any) -> None:
    """A misspelt optional field would otherwise be dropped silently."""
    if not isinstance(data, Mapping):
        raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise serializers.ValidationError({k: ["Unknown field."] for k in unknown})


def push_location(user: Principal, ref: object) -> Location:
    """The location a push writes to: named by id (a JSON integer) or NCPDP ID (a string)
    among those where the principal may push, or the only such location when not named.
    Another organization's or store's location is a 404, like any hidden row."""
    require_role_or_scope(
        user,
        roles=PUSH_ROLES,
        scope=Scope.CLAIMS_WRITE,
        refusal="Your role does not allow pushing fills or patients.",
    )
    reachable = Location.objects.filter(pk__in=location_ids_for_user(user, roles=PUSH_ROLES))
    if ref is None or ref == "":
        if reachable.count() != 1:
            raise serializers.ValidationError(
                {"location": ["Name the location (its id or NCPDP ID): you reach more than one."]}
            )
        only: Location = reachable.select_related("organization").get()
        return only
    if isinstance(ref, bool) or not isinstance(ref, int | str):
        raise serializers.ValidationError(
            {"location": ["A location id (integer) or NCPDP ID (string)."]}
        )
    if (isinstance(ref, int) and not 0 < ref < 2**63) or (
        isinstance(ref, str) and not ref.isprintable()
    ):
        raise Http404("Not found")  # no location has it (and Postgres could not compare it)
    lookup = {"pk": ref} if isinstance(ref, int) else {"ncpdp_id": ref.strip()}
    found = reachable.select_related("organization").filter(**lookup).first()
    if found is None:
        raise Http404("Not found")
    return found


def _item_json(item: ItemResult) -> dict[str, Any]:
    return {
        "index": item.index,
        "status": item.status,
        "fill_id": item.fill_id,
        "errors": item.errors,
    }


class FillPush(APIView):
    """Push one fill (a claim transaction) as the canonical PMS columns of docs/formats.md.
    201 when it created a claim, 200 when it updated one or changed nothing; 400 naming the
    field when it cannot be loaded (the item is quarantined on the push's job)."""

    permission_classes = [ScopeOrRole]
    required_scope = Scope.CLAIMS_WRITE
    allowed_roles = PUSH_ROLES
    parser_classes = [ExactJSONParser]

    @extend_schema(
        request=FillPushSerializer,
        responses={201: FillPushResultSerializer, 200: FillPushResultSerializer},
    )
    def post(self, request: Request) -> Response:
        data = request.data
        if not isinstance(data, Mapping):
            raise serializers.ValidationError({"non_field_errors": ["Expected a JSON object."]})
        fill = dict(data)
        location = push_location(request.user, fill.pop("location", None))
        result = push_fills(location=location, rows=[fill], source=PUSH_SOURCE, user=request.user)
        item = result.items[0]
        if item.status == "rejected":
            raise serializers.ValidationError(
                {e["field"]: [f"{e['reason']} (got {e['value']!r})"] for e in item.errors}
            )
        return Response(
            {**_item_json(item), "job": result.job.pk},
            status=status.HTTP_201_CREATED if item.status == "created" else status.HTTP_200_OK,
        )


class FillBulkPush(APIView):
    """Push up to FILL_PUSH_MAX_ITEMS fills in one call: validated together (as a batch of a
    PMS export is) and loaded in one transaction. Answers 200 with a result per item, in
    request order, and the counts; bad items are rejected (and quarantined on the job) while
    the good ones load."""

    permission_classes = [ScopeOrRole]
    required_scope = Scope.CLAIMS_WRITE
    allowed_roles = PUSH_ROLES
    parser_classes = [ExactJSONParser]
    # room for the largest allowed batch (about 1 KB a fill as JSON)
    max_body_bytes = 64 * 1024 * 1024

    @extend_schema(request=FillBulkPushSerializer, responses={200: FillBulkResultSerializer})
    def post(self, request: Request) -> Response:
        data: Any = request.data
        _refuse_unknown(data, ("location", "fills"))
        fills = data.get("fills")
        if not isinstance(fills, list) or not fills:
            raise serializers.ValidationError({"fills": ["A non-empty list of fills."]})
        limit = settings.FILL_PUSH_MAX_ITEMS
        if len(fills) > limit:
            raise TooManyFills(
                f"{len(fills)} fills in one request; at most {limit}. Send them in batches."
            )
        location = push_location(request.user, data.get("location"))
        result = push_fills(location=location, rows=fills, source=PUSH_SOURCE, user=request.user)
        return Response(
            {
                "job": result.job.pk,
                "counts": result.counts,
                "items": [_item_json(i) for i in result.items],
            }
        )


class FillReversalPush(APIView):
    """Reverse a stored bill (B1) named by Rx number, fill number and date of service: the
    B2 row is written through the same path as a pushed or imported reversal, and the bill
    is marked reversed. Amounts default to the bill's, negated; given ones are the reversal
    row's own (negative). 201 when the reversal is new, 200 when it was already recorded;
    404 when the store has no such bill (a reversal cannot be written without its claim)."""

    permission_classes = [ScopeOrRole]
    required_scope = Scope.CLAIMS_WRITE
    allowed_roles = PUSH_ROLES
    parser_classes = [ExactJSONParser]

    @extend_schema(
        request=FillReversalSerializer,
        responses={201: FillPushResultSerializer, 200: FillPushResultSerializer},
    )
    def post(self, request: Request) -> Response:
        body = FillReversalSerializer(data=request.data)
        _refuse_unknown(request.data, body.fields)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        location = push_location(request.user, v.get("location"))
        try:
            result = fill_reversal_push(
                location=location,
                rx_number=v["rx_number"],
                fill_number=v["fill_number"],
                date_of_service=v["date_of_service"],
                transaction_date=v.get("transaction_date") or timezone.localdate(),
                amounts={k: format(v[k], "f") for k in REVERSAL_AMOUNTS if k in v},
                source=PUSH_SOURCE,
                user=request.user,
            )
        except OriginalNotFound as exc:
            raise NotFound(str(exc)) from None
        item = result.items[0]
        if item.status == "rejected":
            raise serializers.ValidationError(
                {e["field"]: [f"{e['reason']} (got {e['value']!r})"] for e in item.errors}
            )
        return Response(
            {**_item_json(item), "job": result.job.pk},
            status=status.HTTP_201_CREATED if item.status == "created" else status.HTTP_200_OK,
        )


class PatientSerializer(serializers.ModelSerializer[Patient]):
    location = serializers.CharField(source="location.ncpdp_id", read_only=True)

    class Meta:
        model = Patient
        fields = [
            "id",
            "location",
            "pms_patient_id",
            "first_name",
            "last_name",
            "date_of_birth",
            "phone",
            "updated_at",
        ]


class PatientPushedSerializer(PatientSerializer):
    class Meta(PatientSerializer.Meta):
        fields = [
            *PatientSerializer.Meta.fields,
            "sex",
            "postal_code",
            "med_sync_enrolled",
            "med_sync_day",
        ]


class PatientList(generics.ListAPIView[Any]):
    """Patients of the locations the caller may see (GET), or a patient pushed by the PMS
    (POST: create or update by location and PMS patient id). Every call is written to the
    audit log."""

    serializer_class = PatientSerializer
    permission_classes = [ScopeOrRole]
    required_scope = {"GET": Scope.CLAIMS_READ, "POST": Scope.CLAIMS_WRITE}
    allowed_roles = PATIENT_ROLES  # POST: PUSH_ROLES at the location (push_location)
    cursor_ordering = "pk"
    parser_classes = [ExactJSONParser]

    def get_queryset(self) -> Any:
        qs = patient_list_for_user(self.request.user, search=self.request.query_params.get("q", ""))
        location = self.request.query_params.get("location")
        return qs.filter(location__ncpdp_id=location) if location else qs

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="name or PMS patient id"),
            OpenApiParameter("location", str, description="NCPDP ID of one location"),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        audit_record(
            actor=request.user,
            action=AuditEvent.Action.VIEW,
            summary=f"API patient list ({len(response.data['results'])} rows)",
            request=request,
        )
        return response

    @extend_schema(
        request=PatientPushSerializer,
        responses={201: PatientPushedSerializer, 200: PatientPushedSerializer},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Create the patient (201) or update the fields given (200); a field left out keeps
        its value. first_name, last_name and date_of_birth are needed to create one."""
        body = PatientPushSerializer(data=request.data)
        _refuse_unknown(request.data, body.fields)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        location = push_location(request.user, data.pop("location", None))
        try:
            patient, created = patient_upsert(location=location, data=data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(get_error_detail(exc)) from None
        audit_record(
            actor=request.user,
            action=AuditEvent.Action.CREATE if created else AuditEvent.Action.UPDATE,
            obj=patient,
            summary="API patient push",
            request=request,
        )
        return Response(
            PatientPushedSerializer(patient).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class PatientDetail(generics.RetrieveAPIView[Any]):
    serializer_class = PatientSerializer
    permission_classes = [ScopeOrRole]
    required_scope = Scope.CLAIMS_READ
    allowed_roles = PATIENT_ROLES

    def get_object(self) -> Patient:
        patient = patient_get_for_user(user=self.request.user, patient_id=self.kwargs["pk"])
        audit_record(
            actor=self.request.user,
            action=AuditEvent.Action.VIEW,
            obj=patient,
            summary="API patient detail",
            request=self.request,
        )
        return patient
