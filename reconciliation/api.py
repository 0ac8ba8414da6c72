"""Remittances over the API: the list (filterable) and one remittance with its claims, lines,
adjustments and provider-level adjustments, as loaded from the 835."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from reconciliation.models import (
    Adjustment,
    ClaimPayment,
    ProviderAdjustment,
    Remittance,
    ServicePayment,
)
from reconciliation.selectors import (
    RemittanceFilters,
    remittance_claims,
    remittance_get_for_user,
    remittance_list_for_user,
)
from rxrevops.api.permissions import ScopeOrRole
from rxrevops.models import AuditEvent, Role, Scope
from rxrevops.services.audit import audit_record

REMIT_ROLES = [Role.OWNER, Role.REVENUE]


class RemittanceSerializer(serializers.ModelSerializer[Remittance]):
    location = serializers.CharField(source="location.ncpdp_id", read_only=True, default=None)
    current = serializers.BooleanField(source="is_current", read_only=True)

    class Meta:
        model = Remittance
        fields = [
            "id",
            "location",
            "payer_name",
            "payer_id",
            "payee_name",
            "payee_npi",
            "payee_ncpdp",
            "handling_code",
            "paid_cents",
            "credit_debit",
            "method",
            "payment_date",
            "trace_number",
            "trace_originator",
            "claim_count",
            "claim_paid_cents",
            "provider_adjustment_cents",
            "balanced",
            "error_count",
            "warning_count",
            "current",
            "superseded_by",
            "job",
            "loaded_at",
        ]


class AdjustmentSerializer(serializers.ModelSerializer[Adjustment]):
    class Meta:
        model = Adjustment
        fields = ["group", "reason", "amount_cents", "quantity", "segment"]


class ServiceSerializer(serializers.ModelSerializer[ServicePayment]):
    adjustments = AdjustmentSerializer(many=True, read_only=True)

    class Meta:
        model = ServicePayment
        fields = [
            "qualifier",
            "code",
            "modifiers",
            "charge_cents",
            "paid_cents",
            "units",
            "service_date",
            "control_number",
            "remarks",
            "balanced",
            "segment",
            "adjustments",
        ]


class ClaimPaymentSerializer(serializers.ModelSerializer[ClaimPayment]):
    adjustments = AdjustmentSerializer(many=True, read_only=True, source="claim_adjustments")
    services = ServiceSerializer(many=True, read_only=True)

    class Meta:
        model = ClaimPayment
        fields = [
            "claim_ref",
            "status",
            "charge_cents",
            "paid_cents",
            "patient_resp_cents",
            "filing_indicator",
            "payer_claim_control",
            "patient_last_name",
            "patient_first_name",
            "member_id",
            "service_date",
            "balanced",
            "segment",
            "adjustments",
            "services",
        ]


class ProviderAdjustmentSerializer(serializers.ModelSerializer[ProviderAdjustment]):
    class Meta:
        model = ProviderAdjustment
        fields = ["reason", "reference", "fiscal_period", "amount_cents", "provider_id", "segment"]


class RemittanceDetailSerializer(RemittanceSerializer):
    claims = serializers.SerializerMethodField()
    provider_adjustments = ProviderAdjustmentSerializer(many=True, read_only=True)
    issues = serializers.JSONField(read_only=True)

    class Meta(RemittanceSerializer.Meta):
        fields = [*RemittanceSerializer.Meta.fields, "issues", "provider_adjustments", "claims"]

    @extend_schema_field(ClaimPaymentSerializer(many=True))
    def get_claims(self, obj: Remittance) -> list[dict[str, Any]]:
        return ClaimPaymentSerializer(remittance_claims(obj), many=True).data  # type: ignore[return-value]


class RemittanceList(generics.ListAPIView[Any]):
    """Payments (one per 835 transaction) the caller may see, newest first."""

    serializer_class = RemittanceSerializer
    permission_classes = [ScopeOrRole]
    required_scope = Scope.REMITS_READ
    allowed_roles = REMIT_ROLES
    cursor_ordering = "-pk"

    def get_queryset(self) -> Any:
        p = self.request.query_params
        return remittance_list_for_user(
            self.request.user,
            RemittanceFilters(
                payer=p.get("payer", ""),
                status=p.get("status", ""),
                trace=p.get("trace", ""),
            ),
        ).order_by("-pk")

    @extend_schema(
        parameters=[
            OpenApiParameter("payer", str, description="start of the payer name, or its id"),
            OpenApiParameter("status", str, enum=["balanced", "flagged"]),
            OpenApiParameter("trace", str, description="TRN02 trace number"),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class RemittanceDetail(generics.RetrieveAPIView[Any]):
    """One payment with its claims (CLP), lines (SVC), adjustments (CAS), provider-level
    adjustments (PLB) and the problems found in it. Audited: claim payments name patients."""

    serializer_class = RemittanceDetailSerializer
    permission_classes = [ScopeOrRole]
    required_scope = Scope.REMITS_READ
    allowed_roles = REMIT_ROLES

    def get_object(self) -> Remittance:
        remittance = remittance_get_for_user(
            user=self.request.user, remittance_id=int(self.kwargs["pk"])
        )
        audit_record(
            actor=self.request.user,
            action=AuditEvent.Action.VIEW,
            obj=remittance,
            request=self.request,
        )
        return remittance
