"""The dashboards' controls: a date range (preset or custom), a store and a payer. Every
page takes the same query parameters, so a URL is a bookmarkable view:
`?period=mtd|last_month|qtd|ytd|30d|custom&since=YYYY-MM-DD&until=YYYY-MM-DD&location=ID&plan=ID`.
"""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from django import forms

from dashboards.periods import DEFAULT_PRESET, PRESETS, Period, period_for
from dashboards.selectors import dashboard_plans_for_user
from rxrevops.access import Principal, location_ids_for_user
from rxrevops.models import Location
from rxrevops.querysets import ReconciliationQuerySet


class DashboardControls(forms.Form):
    period = forms.ChoiceField(choices=list(PRESETS.items()), required=False, label="Dates")
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    location = forms.ChoiceField(required=False, label="Store")
    plan = forms.ChoiceField(required=False, label="Payer")

    def __init__(self, data: Any, *, user: Principal, today: date, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.today = today
        stores = Location.objects.filter(
            pk__in=location_ids_for_user(user, roles=ReconciliationQuerySet.viewer_roles)
        ).order_by("name")
        cast(forms.ChoiceField, self.fields["location"]).choices = [("", "All my stores")] + [
            (str(s.pk), s.name) for s in stores
        ]
        # the payers of the dates asked for (read from the rollups: cheap at any size)
        period = period_for(
            str(self.data.get("period") or DEFAULT_PRESET),
            today=today,
            start=_date(self.data.get("since")),
            end=_date(self.data.get("until")),
        )
        chosen = str(self.data.get("plan") or "")
        plans = dashboard_plans_for_user(
            user,
            start=period.start,
            end=period.end,
            chosen=int(chosen) if chosen.isdigit() else None,
        )
        cast(forms.ChoiceField, self.fields["plan"]).choices = [("", "All payers")] + [
            (str(p.pk), f"{p.name or 'Plan'} ({p.bin}/{p.group or p.pcn})") for p in plans
        ]

    def _clean(self) -> dict[str, Any]:
        # an invalid value falls back to its default (a hand-edited URL still shows a page)
        self.is_valid()
        return getattr(self, "cleaned_data", {}) or {}

    @property
    def chosen(self) -> dict[str, Any]:
        data = self._clean()
        return {k: data.get(k) for k in ("period", "since", "until", "location", "plan")}

    def period_value(self) -> Period:
        d = self.chosen
        preset = d["period"] or ("custom" if d["since"] or d["until"] else DEFAULT_PRESET)
        return period_for(preset, today=self.today, start=d["since"], end=d["until"])

    def location_id(self) -> int | None:
        value = self.chosen["location"]
        return int(value) if value else None

    def plan_id(self) -> int | None:
        value = self.chosen["plan"]
        return int(value) if value else None


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
