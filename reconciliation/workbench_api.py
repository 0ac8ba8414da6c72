"""Reconciliation results over the API: every claim's result, the exceptions with the
dollars at stake and their case status, one claim's story, and the reconciliation runs.
Scope `remits:read` for tokens; owners and revenue staff when signed in."""

from __future__ import annotations

from datetime import date
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from reconciliation.api import ClaimPaymentSerializer
from reconciliation.case_models import CaseNote, ExceptionCase
from reconciliation.models import ClaimResult
from reconciliation.result_selectors import (
    AGE_BUCKETS,
    EXCEPTION_KINDS,
    ClaimStory,
    claim_story_for_user,
    exceptions_for_user,
    reconcile_runs_for_user,
    result_list_for_user,
)
from rxrevops.api.permissions import ScopeOrRole
from rxrevops.models import AuditEvent, Job, Role, Scope
from rxrevops.services.audit import audit_record

RECON_ROLES = [Role.OWNER, Role.REVENUE]


class ClaimResultSerializer(serializers.ModelSerializer[ClaimResult]):
    fill = serializers.IntegerField(source="fill_id", read_only=True)
    location = serializers.CharField(source="location.ncpdp_id", read_only=True)
    rx_number = serializers.IntegerField(source="fill.rx_number", read_only=True)
    fill_number = serializers.IntegerField(source="fill.fill_number", read_only=True)
    transaction_code = serializers.CharField(source="fill.transaction_code", read_only=True)
    payer = serializers.CharField(source="fill.plan.name", read_only=True, default=None)
    bin = serializers.CharField(source="fill.plan.bin", read_only=True, default=None)
    reasons = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = ClaimResult
        fields = [
            "id",
            "fill",
            "location",
            "rx_number",
            "fill_number",
            "date_of_service",
            "transaction_code",
            "payer",
            "bin",
            "status",
            "matched_by",
            "payments",
            "expected_cents",
            "remitted_cents",
            "recouped_cents",
            "dir_cents",
            "variance_cents",
            "fees_actual_cents",
            "fees_estimated_cents",
            "acquisition_cents",
            "acquisition_source",
            "net_margin_cents",
            "due_on",
            "age_bucket",
            "below_cost",
            "reasons",
            "job",
            "computed_at",
        ]


class ExceptionSerializer(ClaimResultSerializer):
    kind = serializers.ChoiceField(choices=EXCEPTION_KINDS, read_only=True)
    at_stake_cents = serializers.IntegerField(read_only=True)
    case_status = serializers.ChoiceField(choices=ExceptionCase.Status.choices, read_only=True)

    class Meta(ClaimResultSerializer.Meta):
        fields = [*ClaimResultSerializer.Meta.fields, "kind", "at_stake_cents", "case_status"]


class CaseNoteSerializer(serializers.ModelSerializer[CaseNote]):
    author = serializers.CharField(source="author.username", read_only=True, default=None)

    class Meta:
        model = CaseNote
        fields = ["at", "author", "text", "status_from", "status_to"]


class CaseSerializer(serializers.ModelSerializer[ExceptionCase]):
    opened_by = serializers.CharField(source="opened_by.username", read_only=True, default=None)

    class Meta:
        model = ExceptionCase
        fields = ["id", "kind", "status", "amount_cents", "opened_by", "opened_at", "updated_at"]


class StorySerializer(serializers.Serializer[ClaimStory]):
    result = ClaimResultSerializer(read_only=True, allow_null=True)
    kind = serializers.CharField(read_only=True)
    at_stake_cents = serializers.IntegerField(read_only=True)
    reimbursement_cents = serializers.IntegerField(read_only=True)
    nadac_cents = serializers.IntegerField(read_only=True, allow_null=True)
    payments = ClaimPaymentSerializer(many=True, read_only=True)
    provider_adjustments = serializers.SerializerMethodField()
    case = CaseSerializer(read_only=True, allow_null=True)
    notes = CaseNoteSerializer(many=True, read_only=True)

    @extend_schema_field(
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "reason": {"type": "string"},
                    "reference": {"type": "string"},
                    "remittance": {"type": "integer"},
                    "amount_cents": {"type": "integer"},
                    "allocated": {"type": "boolean"},
                },
            },
        }
    )
    def get_provider_adjustments(self, story: ClaimStory) -> list[dict[str, Any]]:
        return [
            {
                "reason": a.adjustment.reason,
                "reference": a.adjustment.reference,
                "remittance": a.adjustment.remittance_id,
                "amount_cents": a.amount_cents,
                "allocated": a.allocated,
            }
            for a in story.plb
        ]


class RunSerializer(serializers.ModelSerializer[Job]):
    as_of = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "id",
            "label",
            "status",
            "as_of",
            "counts",
            "message",
            "created_at",
            "started_at",
            "finished_at",
        ]

    @extend_schema_field(OpenApiTypes.DATE)
    def get_as_of(self, job: Job) -> str | None:
        value = (job.params or {}).get("as_of")
        return str(value) if value else None


def _date(params: Any, name: str) -> date | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationError({name: "Use a date as YYYY-MM-DD."}) from None


class ClaimResultList(generics.ListAPIView[Any]):
    """Every claim's reconciliation result (from the latest run), newest result first."""

    permission_classes = [ScopeOrRole]
    required_scope = Scope.REMITS_READ
    allowed_roles = RECON_ROLES
    serializer_class = ClaimResultSerializer
    cursor_ordering = "-pk"

    def get_queryset(self) -> Any:
        p = self.request.query_params
        status = p.get("status", "")
        if status and status not in ClaimResult.Status.values:
            raise ValidationError({"status": f"Use one of {', '.join(ClaimResult.Status.values)}."})
        return result_list_for_user(
            self.request.user,
            status=status,
            location_ncpdp=p.get("location", ""),
            since=_date(p, "since"),
            until=_date(p, "until"),
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=list(ClaimResult.Status.values)),
            OpenApiParameter("location", str, description="the store's NCPDP ID"),
            OpenApiParameter("since", OpenApiTypes.DATE, description="date of service from"),
            OpenApiParameter("until", OpenApiTypes.DATE, description="date of service to"),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class ExceptionList(generics.ListAPIView[Any]):
    """Exceptions (short-paid, unpaid, overpaid, reversed but paid, recouped, below cost) with
    the dollars at stake and the case status ("open" until someone works it)."""

    permission_classes = [ScopeOrRole]
    required_scope = Scope.REMITS_READ
    allowed_roles = RECON_ROLES
    serializer_class = ExceptionSerializer
    cursor_ordering = "-pk"

    def get_queryset(self) -> Any:
        p = self.request.query_params
        kind = p.get("kind", "")
        if kind and kind not in EXCEPTION_KINDS:
            raise ValidationError({"kind": f"Use one of {', '.join(EXCEPTION_KINDS)}."})
        min_cents = p.get("min_cents")
        if min_cents not in (None, "") and not str(min_cents).lstrip("-").isdigit():
            raise ValidationError({"min_cents": "Use a whole number of cents."})
        qs = exceptions_for_user(
            self.request.user,
            kind=kind,
            payer=p.get("payer", ""),
            age=p.get("age", ""),
            min_cents=int(min_cents) if min_cents not in (None, "") else None,
            case_status=p.get("case_status", ""),
        )
        location = p.get("location")
        return qs.filter(location__ncpdp_id=location) if location else qs

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", str, enum=list(EXCEPTION_KINDS)),
            OpenApiParameter("location", str, description="the store's NCPDP ID"),
            OpenApiParameter("payer", str, description="plan name (any part) or BIN"),
            OpenApiParameter("age", str, enum=list(AGE_BUCKETS)),
            OpenApiParameter("min_cents", int, description="at least this much at stake"),
            OpenApiParameter("case_status", str, enum=list(ExceptionCase.Status.values)),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class ClaimStoryDetail(generics.GenericAPIView[Any]):
    """One claim's whole story by its fill id: its result, every 835 payment answering it
    (lines, CAS adjustments), PLB amounts tied or allocated to it, and its case with notes.
    Audited: it names the patient's claim."""

    permission_classes = [ScopeOrRole]
    required_scope = Scope.REMITS_READ
    allowed_roles = RECON_ROLES
    serializer_class = StorySerializer

    def get(self, request: Request, fill_id: int) -> Response:
        story = claim_story_for_user(user=request.user, fill_id=fill_id)
        audit_record(
            actor=request.user,
            action=AuditEvent.Action.VIEW,
            obj=story.fill,
            summary=f"Claim story Rx {story.fill.rx_number}-{story.fill.fill_number:02d} (API)",
            request=request,
        )
        return Response(StorySerializer(story).data)


class RunList(generics.ListAPIView[Any]):
    """Reconciliation runs, newest first, with their counts (results per status, unmatched
    payments, the balance check and where PLB amounts went)."""

    permission_classes = [ScopeOrRole]
    required_scope = Scope.REMITS_READ
    allowed_roles = RECON_ROLES
    serializer_class = RunSerializer
    cursor_ordering = "-pk"

    def get_queryset(self) -> Any:
        return reconcile_runs_for_user(self.request.user)
