"""API shapes for MTM encounters (read and written by `clinical.encounter_api`)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from adherence.serializers import LocationQuery
from clinical.models import Encounter, EncounterMedication, EncounterProblem
from clinical.services.encounters import DRAFT_FIELDS, MEDICATION_FIELDS, PROBLEM_FIELDS
from rxrevops.api.strict import StrictInputMixin


class EncounterQuery(LocationQuery):
    patient = serializers.IntegerField(required=False, min_value=1, help_text="patient id")
    status = serializers.ChoiceField(choices=Encounter.Status.choices, required=False)
    since = serializers.DateField(required=False, help_text="held on or after this day")


class MedicationSerializer(StrictInputMixin, serializers.ModelSerializer[EncounterMedication]):
    class Meta:
        model = EncounterMedication
        fields = list(MEDICATION_FIELDS)


class ProblemSerializer(StrictInputMixin, serializers.ModelSerializer[EncounterProblem]):
    reason_code = serializers.CharField(max_length=2, help_text="NCPDP 439-E4, e.g. SE")
    service_code = serializers.CharField(
        max_length=2, required=False, default="", help_text="NCPDP 440-E5, e.g. M0"
    )
    result_code = serializers.CharField(
        max_length=2, required=False, default="", help_text="NCPDP 441-E6, e.g. 3E"
    )

    class Meta:
        model = EncounterProblem
        fields = list(PROBLEM_FIELDS)


class EncounterSerializer(serializers.ModelSerializer[Encounter]):
    patient = serializers.IntegerField(source="patient_id", read_only=True)
    location = serializers.CharField(source="location.ncpdp_id", read_only=True)
    medications = MedicationSerializer(many=True, read_only=True)
    problems = ProblemSerializer(many=True, read_only=True)
    signed_by = serializers.CharField(source="signed_by.username", read_only=True, default=None)
    billed_cents = serializers.SerializerMethodField()

    class Meta:
        model = Encounter
        fields = [
            "id",
            "series",
            "version",
            "patient",
            "location",
            "kind",
            "status",
            *DRAFT_FIELDS,
            "amendment_reason",
            "medications",
            "problems",
            "signed_by",
            "signed_at",
            "billed_cents",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_billed_cents(self, enc: Encounter) -> int | None:
        """What the encounter series billed (set at signature), in cents."""
        from clinical.models import ClinicalClaim

        claim = ClinicalClaim.objects.filter(encounter_series=enc.series).first()
        return claim.billed_cents if claim else None


class EncounterCreateSerializer(StrictInputMixin, serializers.Serializer[Any]):
    patient = serializers.IntegerField(min_value=1, help_text="patient id (one of your stores')")
    kind = serializers.ChoiceField(choices=Encounter.Kind.choices, default=Encounter.Kind.CMR)
    worklist_item = serializers.IntegerField(
        min_value=1, required=False, help_text="the CMR care-gap item this encounter works"
    )
    held_on = serializers.DateField(required=False)
    mode = serializers.ChoiceField(choices=Encounter.Mode.choices, required=False)
    recipient = serializers.ChoiceField(choices=Encounter.Recipient.choices, required=False)
    minutes = serializers.IntegerField(min_value=0, max_value=240, required=False)
    new_patient = serializers.BooleanField(required=False)
    allergies = serializers.CharField(required=False, allow_blank=True)
    subjective = serializers.CharField(required=False, allow_blank=True)
    objective = serializers.CharField(required=False, allow_blank=True)
    assessment = serializers.CharField(required=False, allow_blank=True)
    plan = serializers.CharField(required=False, allow_blank=True)
    follow_up_on = serializers.DateField(required=False, allow_null=True)
    follow_up_note = serializers.CharField(max_length=300, required=False, allow_blank=True)
    prescriber_contact = serializers.ChoiceField(
        choices=Encounter.PrescriberContact.choices, required=False, allow_blank=True
    )
    prescriber_note = serializers.CharField(required=False, allow_blank=True)
    medications = MedicationSerializer(
        many=True, required=False, help_text="replaces the list pre-filled from fills"
    )
    problems = ProblemSerializer(many=True, required=False)
    sign = serializers.BooleanField(
        default=False, help_text="sign (lock and bill) now; refused with the reasons if incomplete"
    )

    def fields_for_save(self) -> dict[str, Any]:
        return {k: v for k, v in self.validated_data.items() if k in DRAFT_FIELDS}
