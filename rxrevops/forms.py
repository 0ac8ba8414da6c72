from __future__ import annotations

from typing import Any, cast

from django import forms

from rxrevops.access import organization_ids_administered_by
from rxrevops.models import AuditEvent, Location, Organization, Scope


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What will use it, e.g. “PioneerRx nightly push”."
    )
    organization = forms.ModelChoiceField(queryset=Organization.objects.none())
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple)
    locations = forms.ModelMultipleChoiceField(
        queryset=Location.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave empty for every location of the organization.",
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        orgs = Organization.objects.filter(pk__in=organization_ids_administered_by(user))
        org_field = cast(forms.ModelChoiceField, self.fields["organization"])
        org_field.queryset = orgs
        if orgs.count() == 1:
            org_field.initial = orgs.first()
        loc_field = cast(forms.ModelMultipleChoiceField, self.fields["locations"])
        loc_field.queryset = Location.objects.filter(organization__in=orgs)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        org = data.get("organization")
        foreign = [
            loc for loc in data.get("locations", []) if org and loc.organization_id != org.pk
        ]
        if foreign:
            self.add_error("locations", "Pick locations of the chosen organization only.")
        return data


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(
        choices=[("", "Any action"), *AuditEvent.Action.choices], required=False
    )
    actor = forms.CharField(required=False, label="Who")
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
