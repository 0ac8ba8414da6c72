from __future__ import annotations

from django import forms

from webhooks.models import Event


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(
        label="URL",
        max_length=500,
        assume_scheme="https",
        help_text="We POST JSON here, signed with the secret shown once after you add it.",
    )
    events = forms.MultipleChoiceField(
        choices=Event.choices, widget=forms.CheckboxSelectMultiple, initial=[Event.JOB_SUCCEEDED]
    )
