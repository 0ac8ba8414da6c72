"""API shapes for adherence results and worklists (read by `adherence.api`).

Stores are named by NCPDP ID and money is integer cents, as everywhere else in the API.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from adherence import measures, medsync
from adherence.models import MeasureRate, MeasureResult, Outreach, WorklistItem
from adherence.pdc import MEASURED
from adherence.selectors import outreach_for_item
from claims.models import Patient
from rxrevops.api.strict import StrictInputMixin

NCPDP_HELP = "NCPDP ID of one of your stores"


def _ratio(numerator: int, denominator: int) -> str | None:
    """numerator / denominator to 4 places, truncated so a shown 0.8000 is really >= 80%.
    The exact figure is numerator/denominator; `adherent` is decided on that."""
    if not denominator:
        return None
    return str(Decimal(numerator * 10_000 // denominator).scaleb(-4))


class NamedChoiceField(serializers.ChoiceField):
    """A choice field documented as one named enum component: the item's `kind` and `status`
    appear in several response shapes, which drf-spectacular could otherwise only name with
    a hash (and a warning)."""

    def __init__(self, *, enum_name: str, **kwargs: Any) -> None:
        self.enum_name = enum_name
        super().__init__(**kwargs)


class NamedChoiceFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "adherence.serializers.NamedChoiceField"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        field: NamedChoiceField = self.target
        component = ResolvedComponent(
            name=field.enum_name,
            type=ResolvedComponent.SCHEMA,
            object=field.enum_name,
            schema={
                "type": "string",
                "enum": list(field.choices),
                "description": "\n".join(f"* `{k}` - {v}" for k, v in field.choices.items()),
            },
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


# --- query parameters ---------------------------------------------------------------------


class LocationQuery(serializers.Serializer[Any]):
    location = serializers.RegexField(
        r"^\d{7}$",
        required=False,
        help_text=NCPDP_HELP,
        error_messages={"invalid": "Give the store's NCPDP ID (7 digits)."},
    )


class YearQuery(LocationQuery):
    year = serializers.IntegerField(required=False, help_text="measurement year (default: this)")

    def validate_year(self, year: int) -> int:
        if year not in measures.available_years():
            have = ", ".join(str(y) for y in measures.available_years())
            raise serializers.ValidationError(f"No measure definitions for {year} (have: {have}).")
        return year

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # the default is not checked: a new year with no value sets yet simply has no rows
        attrs.setdefault("year", timezone.localdate().year)
        return attrs


class PdcQuery(YearQuery):
    measure = serializers.CharField(required=False, help_text="PDC-DR, PDC-RASA, PDC-STA, SUPD")
    patient = serializers.IntegerField(required=False, min_value=1, help_text="patient id")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        measure, year = attrs.get("measure"), attrs["year"]
        if measure and year in measures.available_years():
            codes = [m.code for m in measures.measure_year(year).measures]
            if measure not in codes:
                raise serializers.ValidationError(
                    {"measure": [f"Not a {year} measure (have: {', '.join(codes)})."]}
                )
        return attrs


class CallListQuery(LocationQuery):
    date = serializers.DateField(required=False, help_text="the day of the calls (default: today)")


class WorklistQuery(LocationQuery):
    status = serializers.ChoiceField(
        choices=WorklistItem.Status.choices, default=WorklistItem.Status.OPEN
    )


# --- results ----------------------------------------------------------------------------------


class MeasureResultSerializer(serializers.ModelSerializer[MeasureResult]):
    patient = serializers.IntegerField(source="patient_id", read_only=True)
    pms_patient_id = serializers.CharField(source="patient.pms_patient_id", read_only=True)
    location = serializers.CharField(source="location.ncpdp_id", read_only=True)
    attributed_location = serializers.CharField(
        source="attributed_location.ncpdp_id", read_only=True, allow_null=True, default=None
    )
    pdc = serializers.SerializerMethodField(
        help_text="covered_days / days_in_period to 4 places (truncated); null unless measured"
    )

    class Meta:
        model = MeasureResult
        fields = [
            "id",
            "patient",
            "pms_patient_id",
            "location",
            "year",
            "measure",
            "as_of",
            "status",
            "index_date",
            "period_end",
            "days_in_period",
            "covered_days",
            "pdc",
            "adherent",
            "attributed_location",
            "outlook",
            "covered_to_date",
            "days_to_date",
            "days_needed",
            "days_can_miss",
            "next_fill_due",
            "refill_by",
        ]

    @extend_schema_field(serializers.DecimalField(max_digits=5, decimal_places=4, allow_null=True))
    def get_pdc(self, obj: MeasureResult) -> str | None:
        # SUPD is statin use (yes/no), not a proportion of days
        if obj.status != MEASURED or obj.measure == "SUPD":
            return None
        return _ratio(obj.covered_days, obj.days_in_period)


class MeasureRateSerializer(serializers.ModelSerializer[MeasureRate]):
    location = serializers.CharField(source="location.ncpdp_id", read_only=True)
    location_name = serializers.CharField(source="location.name", read_only=True)
    rate = serializers.SerializerMethodField(
        help_text="adherent / measured to 4 places (truncated); null when none measured"
    )

    class Meta:
        model = MeasureRate
        fields = [
            "location",
            "location_name",
            "year",
            "measure",
            "as_of",
            "measured",
            "adherent",
            "rate",
        ]

    @extend_schema_field(serializers.DecimalField(max_digits=5, decimal_places=4, allow_null=True))
    def get_rate(self, obj: MeasureRate) -> str | None:
        return _ratio(obj.adherent, obj.measured)


# --- worklists ------------------------------------------------------------------------------


class WorklistPatientSerializer(serializers.ModelSerializer[Patient]):
    class Meta:
        model = Patient
        fields = ["id", "pms_patient_id", "first_name", "last_name", "date_of_birth", "phone"]


class WorklistItemSerializer(serializers.ModelSerializer[WorklistItem]):
    location = serializers.CharField(source="location.ncpdp_id", read_only=True)
    patient = WorklistPatientSerializer(read_only=True)
    kind = NamedChoiceField(
        enum_name="WorklistKindEnum", choices=WorklistItem.Kind.choices, read_only=True
    )
    status = NamedChoiceField(
        enum_name="WorklistStatusEnum", choices=WorklistItem.Status.choices, read_only=True
    )
    details = serializers.JSONField(
        read_only=True, help_text="what the build found (refill: measure, outlook, drug, ...)"
    )

    class Meta:
        model = WorklistItem
        fields = [
            "id",
            "kind",
            "code",
            "title",
            "location",
            "patient",
            "due_date",
            "value_cents",
            "value_reason",
            "status",
            "last_outcome",
            "last_outreach_at",
            "attempts",
            "details",
        ]


class SyncLineSerializer(serializers.Serializer[Any]):
    key = serializers.CharField(help_text="prescription id")
    name = serializers.CharField()
    action = serializers.ChoiceField(choices=medsync.ACTIONS)
    fill_on = serializers.DateField()
    days = serializers.IntegerField()
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3)
    on_hand_days = serializers.IntegerField()
    refill_too_soon = serializers.BooleanField()
    needs_new_rx = serializers.BooleanField()
    note = serializers.CharField()


class MedSyncCallSerializer(WorklistItemSerializer):
    sync_date = serializers.DateField(source="details.sync_date", read_only=True)
    cycle_days = serializers.IntegerField(source="details.cycle_days", read_only=True)
    lines = SyncLineSerializer(source="details.lines", many=True, read_only=True)

    class Meta(WorklistItemSerializer.Meta):
        fields = [f for f in WorklistItemSerializer.Meta.fields if f != "details"] + [
            "sync_date",
            "cycle_days",
            "lines",
        ]


class OutreachSerializer(serializers.ModelSerializer[Outreach]):
    by = serializers.CharField(source="by.username", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Outreach
        fields = ["id", "outcome", "note", "by", "at", "via_api"]


class WorklistItemDetailSerializer(WorklistItemSerializer):
    outreach = serializers.SerializerMethodField()

    class Meta(WorklistItemSerializer.Meta):
        fields = [*WorklistItemSerializer.Meta.fields, "outreach"]

    @extend_schema_field(OutreachSerializer(many=True))
    def get_outreach(self, obj: WorklistItem) -> Any:
        return OutreachSerializer(outreach_for_item(obj), many=True).data


class OutreachCreateSerializer(StrictInputMixin, serializers.Serializer[Any]):
    outcome = serializers.ChoiceField(choices=Outreach.Outcome.choices)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
