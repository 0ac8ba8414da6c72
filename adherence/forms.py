"""Forms of the adherence pages: which day and store, a call's outcome, a gap reason, a
med-sync plan (with its alignment preview)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.utils import timezone

from adherence import medsync
from adherence.models import GapReason, Outreach
from rxrevops.access import Principal, location_list_for_user
from rxrevops.models import Location


class ScopeForm(forms.Form):
    """`?date=YYYY-MM-DD` (default today) and `?location=<id>` (one of the user's stores).
    A value that does not parse, or a store that is not the user's, is ignored."""

    date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    location = forms.ModelChoiceField(
        queryset=Location.objects.none(), required=False, label="Store", empty_label="All"
    )

    def __init__(self, *args: Any, user: Principal, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        locations = location_list_for_user(user).order_by("name")
        self.fields["location"].queryset = locations  # type: ignore[attr-defined]
        self.several_locations = len(locations) > 1
        self.is_valid()  # cleaned_data keeps the fields that did parse

    @property
    def on(self) -> datetime.date:
        day: datetime.date | None = getattr(self, "cleaned_data", {}).get("date")
        return day or timezone.localdate()

    @property
    def location_id(self) -> int | None:
        location: Location | None = getattr(self, "cleaned_data", {}).get("location")
        return location.pk if location else None

    @property
    def ignored(self) -> list[str]:
        """The parameters that were given but not used, for the page to say so."""
        return sorted(self.errors)

    def query(self, **extra: Any) -> str:
        """The scope as a query string (for links and the pager)."""
        params = {"date": self.on.isoformat()}
        if self.location_id:
            params["location"] = str(self.location_id)
        params.update({k: str(v) for k, v in extra.items()})
        return "&".join(f"{k}={v}" for k, v in params.items())


class OutreachForm(forms.Form):
    outcome = forms.ChoiceField(choices=Outreach.Outcome.choices)
    note = forms.CharField(max_length=500, required=False)
    # which row markup the htmx answer re-renders: a call, a refill/care gap, a card row
    layout = forms.ChoiceField(
        choices=[("call", "call"), ("item", "item"), ("card", "card")], required=False
    )
    date = forms.DateField(required=False)


class GapReasonForm(forms.Form):
    reason = forms.ChoiceField(choices=GapReason.Reason.choices)
    measure = forms.ChoiceField(required=False, label="Measure")
    starts_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Starts")
    ends_on = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Ends (optional)"
    )
    note = forms.CharField(max_length=300, required=False)

    def __init__(self, *args: Any, measures: Sequence[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["measure"].choices = [("", "All measures"), *measures]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any] | None:
        data = super().clean() or {}
        starts, ends = data.get("starts_on"), data.get("ends_on")
        if starts and ends and ends < starts:
            self.add_error("ends_on", "The end date is before the start date.")
        return data


@dataclass(frozen=True)
class SyncPlan:
    """What the enrol form would save, and the alignment it gives on the first sync date."""

    meds: tuple[medsync.SyncMed, ...]
    anchor: medsync.SyncMed | None
    sync_date: datetime.date
    cycle_days: int
    lines: tuple[medsync.SyncLine, ...]


class SyncPlanForm(forms.Form):
    """Enrol a patient in med sync. Unbound it shows the proposal: the maintenance meds
    checked, the anchor the proposal picks and the day it runs out as the first sync date;
    blank anchor or date fields take the proposal too."""

    prescriptions = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple, label="Prescriptions to sync"
    )
    anchor = forms.ChoiceField(required=False, label="Anchor")
    first_sync_date = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="First sync date"
    )
    cycle_days = forms.TypedChoiceField(
        choices=[(c, f"{c} days") for c in medsync.CYCLES],
        coerce=int,
        initial=30,
        label="Cycle",
    )

    def __init__(
        self,
        *args: Any,
        meds: Sequence[medsync.SyncMed],
        default_keys: frozenset[str],
        today: datetime.date,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.meds = {m.key: m for m in meds}
        self.today = today
        self.fields["prescriptions"].choices = [  # type: ignore[attr-defined]
            (m.key, _med_label(m)) for m in meds
        ]
        self.fields["anchor"].choices = [("", "Proposed")] + [  # type: ignore[attr-defined]
            (m.key, m.name) for m in meds if m.syncable
        ]
        chosen = [m for m in meds if m.key in default_keys]
        anchor = medsync.propose_anchor(chosen)
        self.initial.setdefault("prescriptions", sorted(default_keys))
        self.initial.setdefault("anchor", anchor.key if anchor else "")
        self.initial.setdefault("first_sync_date", _proposed_date(chosen, anchor, today))

    def clean(self) -> dict[str, Any] | None:
        data = super().clean() or {}
        anchor = data.get("anchor")
        if anchor and anchor not in data.get("prescriptions", []):
            self.add_error("anchor", "The anchor must be one of the prescriptions to sync.")
        return data

    def plan(self) -> SyncPlan | None:
        """The plan from the submitted values (valid form) or the proposal (unbound form);
        None when no prescription is chosen."""
        if self.is_bound:
            if not self.is_valid():
                return None
            values = self.cleaned_data
        else:
            values = {**self.initial, "cycle_days": self.fields["cycle_days"].initial}
        chosen = tuple(m for key, m in self.meds.items() if key in set(values["prescriptions"]))
        if not chosen:
            return None
        anchor = self.meds.get(values.get("anchor") or "") or medsync.propose_anchor(chosen)
        sync_date = values.get("first_sync_date") or _proposed_date(chosen, anchor, self.today)
        cycle = int(values["cycle_days"])
        lines = medsync.alignment(chosen, sync_date=sync_date, cycle=cycle, today=self.today)
        return SyncPlan(chosen, anchor, sync_date, cycle, tuple(lines))


def _proposed_date(
    meds: Sequence[medsync.SyncMed], anchor: medsync.SyncMed | None, today: datetime.date
) -> datetime.date:
    return today if anchor is None else medsync.propose_sync_date(meds, anchor=anchor, today=today)


def _med_label(m: medsync.SyncMed) -> str:
    label = f"{m.name}: last filled {m.last_fill:%b} {m.last_fill.day}, {m.days_supply} days"
    return label if m.syncable else f"{label} (keeps its own dates)"
