"""Dashboard metrics over the API: net margin and its parts per location, payer, drug class,
contract type, day or month, from the rollups the pages read. Scope `metrics:read` for
tokens; owners and revenue staff when signed in. Money is integer cents, as everywhere else
in the API; per-script figures are cents rounded half away from zero; rates are decimal
fractions as strings ("0.1234")."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboards.selectors import GROUP_BYS, margin_for_user
from rxrevops.api.permissions import ScopeOrRole
from rxrevops.models import Role, Scope

METRIC_ROLES = [Role.OWNER, Role.REVENUE]


def _date_field(help_text: str) -> serializers.DateField:
    return serializers.DateField(
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": "Use a date as YYYY-MM-DD."},
        help_text=help_text,
    )


class _WithFrom(serializers.Serializer[Any]):
    # `from` is a Python keyword: the field is declared as `from_` and named `from`
    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        renamed = {("from" if name == "from_" else name): field for name, field in fields.items()}
        return renamed


class MarginQuery(_WithFrom):
    group_by = serializers.ChoiceField(choices=GROUP_BYS, help_text="what one row sums")
    from_ = _date_field("first date of service (YYYY-MM-DD)")
    to = _date_field("last date of service, inclusive (YYYY-MM-DD)")
    location = serializers.IntegerField(
        required=False, min_value=1, help_text="id of one of your locations (404 otherwise)"
    )
    payer = serializers.IntegerField(
        required=False, min_value=1, help_text="plan id (the payer as claims name it)"
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data["to"] < data["from"]:
            raise serializers.ValidationError({"to": "Must be on or after `from`."})
        return data


class MarginRowSerializer(serializers.Serializer[Any]):
    key = serializers.CharField(
        allow_null=True,
        help_text="location or plan id, drug class, contract type, day or first of the month "
        "(null: cash claims when grouped by payer; the totals)",
    )
    # a declared field named like the Field.label attribute (the metaclass takes it out)
    label = serializers.CharField()  # type: ignore[assignment]
    claims = serializers.IntegerField(help_text="dispensed scripts (reversals left out)")
    generic_claims = serializers.IntegerField()
    revenue_cents = serializers.IntegerField(help_text="plan paid + patient pay")
    plan_paid_cents = serializers.IntegerField(help_text="plan paid at adjudication")
    acquisition_cents = serializers.IntegerField()
    fees_actual_cents = serializers.IntegerField(help_text="from PBM fee statements")
    fees_estimated_cents = serializers.IntegerField(
        help_text="contract estimate for scripts no statement has covered yet"
    )
    fees_cents = serializers.IntegerField(help_text="actual + estimated")
    dir_cents = serializers.IntegerField(help_text="DIR/fees withheld on the 835s")
    net_margin_cents = serializers.IntegerField(
        help_text="received (promised while not yet due) + patient pay - PLB fees - fees "
        "- acquisition cost"
    )
    below_cost_claims = serializers.IntegerField()
    below_cost_cents = serializers.IntegerField(
        help_text="acquisition - (plan paid + patient pay) of below-cost scripts"
    )
    remitted_cents = serializers.IntegerField(help_text="what the 835s paid")
    unreconciled_0_30_cents = serializers.IntegerField()
    unreconciled_31_60_cents = serializers.IntegerField()
    unreconciled_61_90_cents = serializers.IntegerField()
    unreconciled_90_plus_cents = serializers.IntegerField()
    unreconciled_cents = serializers.IntegerField(
        help_text="still owed on open claims (pending, unpaid, short-paid), all ages"
    )
    net_margin_per_script_cents = serializers.IntegerField(allow_null=True)
    revenue_per_script_cents = serializers.IntegerField(allow_null=True)
    fees_per_script_cents = serializers.IntegerField(allow_null=True)
    dir_per_script_cents = serializers.IntegerField(allow_null=True)
    below_cost_rate = serializers.DecimalField(max_digits=5, decimal_places=4, allow_null=True)
    generic_dispensing_rate = serializers.DecimalField(
        max_digits=5, decimal_places=4, allow_null=True
    )


class MarginReportSerializer(_WithFrom):
    """The rows of one `group_by` for the dates of service `from`..`to`, and their totals."""

    group_by = serializers.ChoiceField(choices=GROUP_BYS)
    from_ = serializers.DateField(source="start")
    to = serializers.DateField(source="end")
    results = MarginRowSerializer(many=True, source="rows")
    totals = MarginRowSerializer()


class MarginMetrics(APIView):
    """Net margin, revenue, costs, fees, below-cost scripts, remitted and unreconciled
    dollars by age for the dates of service `from`..`to`, one row per `group_by` value,
    plus the totals. Read from the rollups refreshed after each reconciliation run."""

    permission_classes = [ScopeOrRole]
    required_scope = Scope.METRICS_READ
    allowed_roles = METRIC_ROLES

    @extend_schema(parameters=[MarginQuery], responses=MarginReportSerializer)
    def get(self, request: Request) -> Response:
        query = MarginQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        report = margin_for_user(
            request.user,
            group_by=q["group_by"],
            start=q["from"],
            end=q["to"],
            location=q.get("location"),
            payer=q.get("payer"),
        )
        return Response(MarginReportSerializer(report).data)
