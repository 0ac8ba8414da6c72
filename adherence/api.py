"""Adherence results and worklists over the API: PDC rows and store rates, the med-sync call
list, care gaps, refills, one item with its call history, and logging a call.

Stores are named by NCPDP ID (`?location=`); one the caller does not reach gives an empty
list, as on `/patients/`. Lists naming patients are written to the audit log.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from adherence.models import MeasureRate, MeasureResult, WorklistItem
from adherence.selectors import (
    call_list_for_user,
    measure_rates_for_user,
    measure_results_for_user,
    worklist_item_get_for_user,
    worklist_items_for_user,
)
from adherence.serializers import (
    CallListQuery,
    MeasureRateSerializer,
    MeasureResultSerializer,
    MedSyncCallSerializer,
    OutreachCreateSerializer,
    PdcQuery,
    WorklistItemDetailSerializer,
    WorklistItemSerializer,
    WorklistQuery,
    YearQuery,
)
from adherence.services.worklists import WORKLIST_ROLES, outreach_record
from rxrevops.api.permissions import ScopeOrRole
from rxrevops.models import AuditEvent, Scope
from rxrevops.services.audit import audit_record

# PDC rows and rates are the adherence metrics `metrics:read` was made for; the people who
# work the lists read them with `worklists:read`
METRIC_SCOPES = [Scope.WORKLISTS_READ, Scope.METRICS_READ]


def _query(serializer_class: type[serializers.Serializer[Any]], request: Request) -> Any:
    """The validated query parameters; a bad one is a 400 naming it."""
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


def _schema_only(view: APIView) -> bool:
    # drf-spectacular builds the document with a fake view and no query parameters
    return getattr(view, "swagger_fake_view", False)


class _AuditedList(generics.ListAPIView[Any]):
    """A list that names patients: every call is written to the audit log."""

    permission_classes = [ScopeOrRole]
    required_scope: Any = Scope.WORKLISTS_READ
    allowed_roles = WORKLIST_ROLES
    audit_label = ""

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        audit_record(
            actor=request.user,
            action=AuditEvent.Action.VIEW,
            summary=f"API {self.audit_label} ({len(response.data['results'])} rows)",
            request=request,
        )
        return response


@extend_schema(parameters=[PdcQuery])
class PdcList(_AuditedList):
    """Patients' PQA measure rows for a year (year to date for the current one), with the
    outlook: what is still possible, how many days can be missed, the refill-by date."""

    serializer_class = MeasureResultSerializer
    required_scope = METRIC_SCOPES
    audit_label = "adherence results"
    cursor_ordering = ("patient_id", "measure")

    def get_queryset(self) -> Any:
        if _schema_only(self):
            return MeasureResult.objects.none()
        q = _query(PdcQuery, self.request)
        qs = measure_results_for_user(
            self.request.user,
            year=q["year"],
            measure=q.get("measure"),
        ).select_related("location", "attributed_location")
        if "location" in q:
            qs = qs.filter(location__ncpdp_id=q["location"])
        if "patient" in q:
            qs = qs.filter(patient_id=q["patient"])
        return qs


@extend_schema(parameters=[YearQuery])
class RateList(generics.ListAPIView[Any]):
    """Adherence rates per attributed store and measure, year to date at each month end and
    at the last build. Counts only, so not audited."""

    serializer_class = MeasureRateSerializer
    permission_classes = [ScopeOrRole]
    required_scope = METRIC_SCOPES
    allowed_roles = WORKLIST_ROLES
    cursor_ordering = "pk"

    def get_queryset(self) -> Any:
        if _schema_only(self):
            return MeasureRate.objects.none()
        q = _query(YearQuery, self.request)
        qs = measure_rates_for_user(self.request.user, year=q["year"])
        return qs.filter(location__ncpdp_id=q["location"]) if "location" in q else qs


@extend_schema(parameters=[CallListQuery])
class MedSyncCallList(_AuditedList):
    """Med-sync calls for pickups from `date` to a week ahead, earliest due first: the open
    ones and the ones worked that day. Each has the lines to prepare for the sync date."""

    serializer_class = MedSyncCallSerializer
    audit_label = "med-sync call list"
    cursor_ordering = ("due_date", "-value_cents", "pk")

    def get_queryset(self) -> Any:
        if _schema_only(self):
            return WorklistItem.objects.none()
        q = _query(CallListQuery, self.request)
        qs = call_list_for_user(self.request.user, on=q.get("date") or timezone.localdate())
        return qs.filter(location__ncpdp_id=q["location"]) if "location" in q else qs


@extend_schema(parameters=[WorklistQuery])
class _KindList(_AuditedList):
    """Worklist items of one kind, most valuable first (then earliest due); open by default."""

    serializer_class = WorklistItemSerializer
    kind = ""
    cursor_ordering = ("-value_cents", "due_date", "pk")

    def get_queryset(self) -> Any:
        if _schema_only(self):
            return WorklistItem.objects.none()
        q = _query(WorklistQuery, self.request)
        qs = worklist_items_for_user(self.request.user, kind=self.kind, status=q["status"])
        return qs.filter(location__ncpdp_id=q["location"]) if "location" in q else qs


class CareGapList(_KindList):
    """Care gaps (immunizations due, SUPD statin gap, CMR due), most valuable first."""

    kind = WorklistItem.Kind.CARE_GAP
    audit_label = "care-gap list"


class RefillList(_KindList):
    """Late or at-risk refills for the PDC measures, most valuable first."""

    kind = WorklistItem.Kind.REFILL
    audit_label = "refill list"


class WorklistItemDetail(generics.RetrieveAPIView[Any]):
    """One worklist item with its call history, newest call first."""

    serializer_class = WorklistItemDetailSerializer
    permission_classes = [ScopeOrRole]
    required_scope = Scope.WORKLISTS_READ
    allowed_roles = WORKLIST_ROLES

    def get_object(self) -> WorklistItem:
        item = worklist_item_get_for_user(user=self.request.user, item_id=int(self.kwargs["pk"]))
        audit_record(
            actor=self.request.user,
            action=AuditEvent.Action.VIEW,
            obj=item,
            summary="API worklist item",
            request=self.request,
        )
        return item


class OutreachCreate(APIView):
    """Log one call on an item. An ending outcome (reached, ready to fill, declined) closes
    it; `not_reached` leaves it open with one more attempt. Answers 201 with the item.

    Not idempotent: sending the same call twice logs two attempts."""

    permission_classes = [ScopeOrRole]
    required_scope = Scope.WORKLISTS_WRITE
    allowed_roles = WORKLIST_ROLES

    @extend_schema(request=OutreachCreateSerializer, responses={201: WorklistItemDetailSerializer})
    def post(self, request: Request, pk: int) -> Response:
        item = worklist_item_get_for_user(user=request.user, item_id=pk)
        data = OutreachCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            outreach_record(
                user=request.user,
                item=item,
                outcome=data.validated_data["outcome"],
                note=data.validated_data["note"],
                via_api=True,
                request=request,
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(
                exc.message_dict if hasattr(exc, "error_dict") else exc.messages
            ) from None
        return Response(WorklistItemDetailSerializer(item).data, status=status.HTTP_201_CREATED)
