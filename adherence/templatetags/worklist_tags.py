"""Small display helpers for the worklist pages."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import template

from adherence import medsync
from adherence.models import Outreach, WorklistItem

register = template.Library()

_OUTCOMES = dict(Outreach.Outcome.choices)
_ACTIONS = {
    medsync.SHORT: "Short fill",
    medsync.FULL: "Full fill",
    medsync.SKIP: "Skip",
    medsync.BRIDGE: "Bridge",
    medsync.NOT_SYNCED: "Not synced",
}
_OUTLOOKS = {
    "adherent": "On track",
    "at_risk": "At risk",
    "will_fail_without_action": "Will fail without a refill",
    "already_lost": "Already lost for the year",
}


@register.filter
def isodate(value: Any) -> date | None:
    """A date from the ISO text stored in an item's details ("2026-11-28")."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


@register.filter
def call_late(item: WorklistItem, on: date) -> bool:
    """A med-sync call still on the list after the day it was due by."""
    sync = isodate(item.details.get("sync_date"))
    return sync is not None and medsync.call_is_late(sync, today=on)


@register.filter
def outcome_label(code: str) -> str:
    return _OUTCOMES.get(code, code)


@register.filter
def sync_action(code: str) -> str:
    return _ACTIONS.get(code, code)


@register.filter
def outlook_label(code: str) -> str:
    return _OUTLOOKS.get(code, code)


_RESULT_STATUSES = {
    "measured": "Measured",
    "excluded": "Excluded (an exclusion drug was filled)",
    "single_fill": "Not yet measured: fills on one date only",
    "short_period": "Not measured: treatment period under 91 days",
    "out_of_age": "Not measured: outside the age range",
}


@register.filter
def result_status(code: str) -> str:
    return _RESULT_STATUSES.get(code, code)
