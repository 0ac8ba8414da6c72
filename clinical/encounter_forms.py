"""The encounter editor's forms: the encounter's own fields, its medication list and its
problems (NCPDP reason/service/result codes). All optional so a half-written draft saves;
what a signature needs is checked by `clinical.mtm.signature_problems`."""

from __future__ import annotations

from typing import Any

from django import forms

from clinical.models import ClinicalClaim, Encounter, EncounterMedication, PointOfCareTest
from clinical.mtm import code_set
from clinical.services.encounters import DRAFT_FIELDS


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _choices(table: str, blank: str) -> list[tuple[str, str]]:
    names: dict[str, str] = getattr(code_set(), table)
    return [("", blank)] + [(code, f"{code} · {name}") for code, name in names.items()]


class EncounterForm(forms.ModelForm[Encounter]):
    class Meta:
        model = Encounter
        fields = list(DRAFT_FIELDS)
        widgets = {
            "held_on": _date_input(),
            "follow_up_on": _date_input(),
            "allergies": forms.Textarea(attrs={"rows": 2}),
            "subjective": forms.Textarea(attrs={"rows": 3}),
            "objective": forms.Textarea(attrs={"rows": 3}),
            "assessment": forms.Textarea(attrs={"rows": 3}),
            "plan": forms.Textarea(attrs={"rows": 3}),
            "prescriber_note": forms.Textarea(attrs={"rows": 2}),
            "minutes": forms.NumberInput(attrs={"min": 0, "max": 240, "step": 1}),
        }
        labels = {
            "held_on": "Date",
            "new_patient": "New patient (bills 99605; established bills 99606)",
            "minutes": "Minutes spent",
            "allergies": "Allergies and side effects",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            field.required = name == "held_on"


class MedicationForm(forms.Form):
    source = forms.ChoiceField(choices=EncounterMedication.Source.choices, required=False)
    name = forms.CharField(max_length=200, required=False)
    ndc = forms.CharField(max_length=11, required=False, widget=forms.HiddenInput)
    how_used = forms.CharField(max_length=300, required=False, label="How I use it")
    why_used = forms.CharField(max_length=300, required=False, label="Why I use it")
    prescriber = forms.CharField(max_length=200, required=False)
    started_on = forms.DateField(required=False, widget=_date_input())
    stopped_on = forms.DateField(required=False, widget=_date_input())
    why_stopped = forms.CharField(max_length=300, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if any(data.get(f) for f in ("how_used", "why_used", "stopped_on")) and not data.get(
            "name"
        ):
            self.add_error("name", "Name the medication.")
        return data


class ProblemForm(forms.Form):
    medication = forms.CharField(max_length=200, required=False)
    reason_code = forms.ChoiceField(required=False, label="Reason for service")
    service_code = forms.ChoiceField(required=False, label="Professional service")
    result_code = forms.ChoiceField(required=False, label="Result of service")
    talked_about = forms.CharField(max_length=400, required=False, label="What we talked about")
    patient_action = forms.CharField(max_length=400, required=False, label="What I need to do")
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 1}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        reason = self.fields["reason_code"]
        service = self.fields["service_code"]
        result = self.fields["result_code"]
        assert isinstance(reason, forms.ChoiceField)  # noqa: S101  (narrowing for mypy)
        assert isinstance(service, forms.ChoiceField)  # noqa: S101
        assert isinstance(result, forms.ChoiceField)  # noqa: S101
        reason.choices = _choices("reason", "— reason —")
        service.choices = _choices("service", "— service —")
        result.choices = _choices("result", "— result —")


MedicationFormSet = forms.formset_factory(MedicationForm, extra=0, can_delete=True)
ProblemFormSet = forms.formset_factory(ProblemForm, extra=0, can_delete=True)


def filled_rows(formset: forms.BaseFormSet[Any]) -> list[dict[str, Any]]:
    """The rows worth keeping: not deleted and not left blank."""
    rows = []
    for form in formset.forms:
        data = form.cleaned_data
        if not data or data.get("DELETE"):
            continue
        row = {k: v for k, v in data.items() if k != "DELETE"}
        if any(v not in (None, "", "fill") for k, v in row.items() if k != "source"):
            rows.append(row)
    return rows


class AmendForm(forms.Form):
    reason = forms.CharField(max_length=300, label="Why amend the signed record?")


class PocTestForm(forms.Form):
    kind = forms.ChoiceField(choices=PointOfCareTest.Kind.choices, label="Test")
    performed_on = forms.DateField(widget=_date_input(), label="Performed on")
    result = forms.CharField(max_length=100)


class ClaimUpdateForm(forms.Form):
    status = forms.ChoiceField(choices=ClinicalClaim.Status.choices)
    paid = forms.DecimalField(
        max_digits=10, decimal_places=2, min_value=0, required=False, label="Paid ($)"
    )
    note = forms.CharField(max_length=300, required=False)

    def paid_cents(self) -> int | None:
        paid = self.cleaned_data.get("paid")
        return None if paid is None else int(paid * 100)
