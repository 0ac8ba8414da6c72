"""API shapes for immunizations (read and written by `clinical.api`).

Stores are named by NCPDP ID and money is integer cents in answers, as everywhere else in
the API; a pushed dose gives its billed amount as a decimal string of dollars.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from adherence.serializers import LocationQuery
from clinical.models import Immunization
from rxrevops.api.strict import StrictInputMixin


class ImmunizationQuery(LocationQuery):
    patient = serializers.IntegerField(required=False, min_value=1, help_text="patient id")
    since = serializers.DateField(
        required=False, help_text="doses administered on or after this day"
    )


class ImmunizationSerializer(serializers.ModelSerializer[Immunization]):
    patient = serializers.IntegerField(source="patient_id", read_only=True)
    pms_patient_id = serializers.CharField(source="patient.pms_patient_id", read_only=True)
    location = serializers.CharField(source="location.ncpdp_id", read_only=True)
    # plain codes (HL7 0163 site, NCIT route, HL7 0064 eligibility), checked on the way in
    site = serializers.CharField(read_only=True)
    route = serializers.CharField(read_only=True)
    funding_eligibility = serializers.CharField(read_only=True)

    class Meta:
        model = Immunization
        fields = [
            "id",
            "patient",
            "pms_patient_id",
            "location",
            "administered_on",
            "cvx",
            "mvx",
            "vaccine",
            "lot",
            "expiration",
            "dose_ml",
            "site",
            "route",
            "vis_edition_date",
            "vis_given_on",
            "funding_eligibility",
            "administering_npi",
            "billed_cents",
            "created_at",
        ]
        read_only_fields = fields


class ImmunizationCreateSerializer(StrictInputMixin, serializers.Serializer[Any]):
    patient = serializers.IntegerField(min_value=1, help_text="patient id (one of your stores')")
    administered_on = serializers.DateField()
    cvx = serializers.CharField(max_length=4, help_text="CDC CVX code, e.g. 150")
    mvx = serializers.CharField(max_length=4, help_text="CDC MVX code, e.g. SKB")
    lot = serializers.CharField(max_length=40)
    expiration = serializers.DateField(help_text="the lot's expiration date")
    dose_ml = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=Decimal("0.01"))
    site = serializers.CharField(max_length=4, help_text="HL7 0163 site, e.g. LD")
    route = serializers.CharField(max_length=8, help_text="IM, SC, ID, NS, PO or an NCIT code")
    vis_edition_date = serializers.DateField()
    vis_given_on = serializers.DateField()
    funding_eligibility = serializers.CharField(
        max_length=3, default="V01", help_text="HL7 0064 VFC eligibility, V01-V07"
    )
    administering_npi = serializers.CharField(max_length=10, required=False, default="")
    billed_amount = serializers.DecimalField(
        max_digits=9,
        decimal_places=2,
        min_value=Decimal("0"),
        default=Decimal("0"),
        help_text='dollars as a decimal string, e.g. "40.00"',
    )

    def service_kwargs(self) -> dict[str, Any]:
        """The validated values as `immunization_record` takes them (without the patient)."""
        d = dict(self.validated_data)
        d.pop("patient")
        # dollars with 2 places -> integer cents, exactly (Decimal, never float)
        d["billed_cents"] = int(d.pop("billed_amount") * 100)
        return d
