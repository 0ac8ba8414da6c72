"""Reading adherence results and worklists, always through the principal's stores."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from adherence import medsync
from adherence.models import (
    GapReason,
    MeasureRate,
    MeasureResult,
    Outreach,
    SyncEnrollment,
    WorklistItem,
)
from adherence.services.worklists import QUEUE_OUTCOMES
from rxrevops.access import Principal, object_get_for_user

# the call list's rows: sync dates from today to a week ahead (the call is due 5 days before)
CALL_AHEAD_DAYS = medsync.CALL_EARLIEST_DAYS


def worklist_items_for_user(
    user: Principal,
    *,
    kind: str | None = None,
    location_id: int | None = None,
    status: str | None = WorklistItem.Status.OPEN,
) -> Any:
    """Items of the principal's stores, most valuable first (then earliest due)."""
    qs = WorklistItem.objects.for_user(user).select_related("patient", "location")
    if kind:
        qs = qs.filter(kind=kind)
    if location_id:
        qs = qs.filter(location_id=location_id)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-value_cents", "due_date", "pk")


def call_list_for_user(user: Principal, *, on: date, location_id: int | None = None) -> Any:
    """Med-sync calls for sync dates from `on` to a week ahead: open ones, and the ones
    worked today (so the list updates in place instead of rows vanishing)."""
    sync_from, sync_to = on, on + timedelta(days=CALL_AHEAD_DAYS)
    due_offset = timedelta(days=medsync.CALL_LATEST_DAYS)  # due_date = sync date - 5 days
    qs = worklist_items_for_user(
        user, kind=WorklistItem.Kind.MED_SYNC, location_id=location_id, status=None
    ).filter(due_date__gte=sync_from - due_offset, due_date__lte=sync_to - due_offset)
    worked_today = qs.filter(status=WorklistItem.Status.DONE, last_outreach_at__date__gte=on)
    open_items = qs.filter(status=WorklistItem.Status.OPEN)
    return (open_items | worked_today).order_by("due_date", "-value_cents", "pk")


def refill_queue_for_user(user: Principal, *, on: date, location_id: int | None = None) -> Any:
    """Med-sync fills confirmed on the call and not yet past their sync date."""
    due_offset = timedelta(days=medsync.CALL_LATEST_DAYS)
    return (
        worklist_items_for_user(
            user, kind=WorklistItem.Kind.MED_SYNC, location_id=location_id, status=None
        )
        .filter(
            status=WorklistItem.Status.DONE,
            last_outcome__in=QUEUE_OUTCOMES,
            due_date__gte=on - due_offset,
        )
        .order_by("due_date", "pk")
    )


def worklist_item_get_for_user(*, user: Principal, item_id: int) -> WorklistItem:
    item: WorklistItem = object_get_for_user(
        WorklistItem.objects.select_related("patient", "location"), user=user, pk=item_id
    )
    return item


def outreach_for_item(item: WorklistItem) -> Any:
    return Outreach.objects.filter(item=item).select_related("by")


def measure_results_for_user(
    user: Principal,
    *,
    year: int,
    location_id: int | None = None,
    measure: str | None = None,
) -> Any:
    qs = MeasureResult.objects.for_user(user).filter(year=year).select_related("patient")
    if location_id:
        qs = qs.filter(location_id=location_id)
    if measure:
        qs = qs.filter(measure=measure)
    return qs.order_by("patient_id", "measure")


def measure_rates_for_user(user: Principal, *, year: int, location_id: int | None = None) -> Any:
    qs = MeasureRate.objects.for_user(user).filter(year=year).select_related("location")
    if location_id:
        qs = qs.filter(location_id=location_id)
    return qs.order_by("location__name", "measure", "as_of")


def patient_results(patient_id: int, *, year: int) -> Any:
    """A patient's rows; callers fetch the patient through `patient_get_for_user` first."""
    return MeasureResult.objects.filter(patient_id=patient_id, year=year).order_by("measure")


def patient_items(patient_id: int) -> Any:
    return WorklistItem.objects.filter(patient_id=patient_id).order_by("status", "due_date")


def patient_gap_reasons(patient_id: int) -> Any:
    return GapReason.objects.filter(patient_id=patient_id).select_related("created_by")


def patient_enrollment(patient_id: int) -> SyncEnrollment | None:
    return (
        SyncEnrollment.objects.filter(patient_id=patient_id)
        .prefetch_related("prescriptions")
        .first()
    )
