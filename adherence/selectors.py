"""Reading adherence results and worklists, always through the principal's stores."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd
from django.db.models import Count, Max
from django.utils import timezone

from adherence import medsync, pdc
from adherence.models import (
    GapReason,
    MeasureRate,
    MeasureResult,
    Outreach,
    SyncEnrollment,
    WorklistItem,
)
from adherence.services.build import HISTORY_DAYS, sync_meds
from adherence.services.worklists import QUEUE_OUTCOMES
from claims.models import Fill, Prescription
from rxrevops.access import Principal, object_get_for_user, organization_ids_for_user
from rxrevops.models import Job

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
    since = min(on, timezone.localdate())  # a look ahead still shows today's work
    worked_today = qs.filter(status=WorklistItem.Status.DONE, last_outreach_at__date__gte=since)
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


# -- the patient card: fills for the timeline and the med-sync preview --------------------------


def patient_fills(patient_id: int, *, since: date, until: date) -> list[pdc.Fill]:
    """A patient's dispensed fills (paid or cash) in [since, until] as the PDC core reads
    them; callers fetch the patient through `patient_get_for_user` first."""
    rows = (
        Fill.objects.filter(
            patient_id=patient_id,
            status__in=pdc.COUNTED_STATUSES,
            date_of_service__range=(since, until),
        )
        .order_by("date_of_service", "pk")
        .values_list("location_id", "drug__ndc", "date_of_service", "days_supply", "status")
    )
    return [
        pdc.Fill(
            patient=str(patient_id),
            location=str(location),
            ndc=ndc,
            date_of_service=dos,
            days_supply=days,
            status=status,
        )
        for location, ndc, dos, days, status in rows
    ]


def patient_prescriptions(patient_id: int) -> Any:
    return Prescription.objects.filter(patient_id=patient_id).select_related("drug")


def patient_sync_meds(
    patient_id: int, *, as_of: date
) -> tuple[list[medsync.SyncMed], frozenset[str]]:
    """Every prescription of the patient filled in the build's history window, as its last
    fill describes it, and the keys of those the build syncs when none are chosen
    (maintenance prescriptions filled recently): the same rules as the nightly build."""
    rows = list(
        Fill.objects.filter(
            patient_id=patient_id,
            status__in=pdc.COUNTED_STATUSES,
            date_of_service__range=(as_of - timedelta(days=HISTORY_DAYS), as_of),
        ).values_list(
            "prescription_id",
            "drug__ndc",
            "drug__name",
            "date_of_service",
            "days_supply",
            "quantity",
            "total_paid_cents",
            "patient_pay_cents",
        )
    )
    if not rows:
        return [], frozenset()
    frame = pd.DataFrame(
        {
            "patient": patient_id,
            "prescription_id": [r[0] for r in rows],
            "ndc": [r[1] for r in rows],
            "drug_name": [r[2] for r in rows],
            "date_of_service": pd.to_datetime([r[3] for r in rows]),
            "days_supply": [r[4] for r in rows],
            "quantity": [str(r[5]) for r in rows],  # Decimal text: never through float
            "revenue_cents": [r[6] + r[7] for r in rows],
        }
    )
    every = sync_meds(frame, patient=patient_id, prescriptions={r[0] for r in rows}, as_of=as_of)
    default = sync_meds(frame, patient=patient_id, prescriptions=(), as_of=as_of)
    return every, frozenset(m.key for m in default)


def worklists_built_at_for_user(user: Principal) -> Any:
    """When the principal's organizations' worklists were last built (None: never)."""
    return Job.objects.filter(
        kind="worklists",
        status=Job.Status.SUCCEEDED,
        organization_id__in=organization_ids_for_user(user),
    ).aggregate(at=Max("finished_at"))["at"]


@dataclass(frozen=True)
class MeasureHealth:
    """One PDC/SUPD measure across the stores asked for: patients measured and adherent as of
    the latest month end (or build date) on or before the day asked for."""

    measure: str
    as_of: date | None
    measured: int
    adherent: int

    @property
    def rate(self) -> Decimal | None:
        """adherent / measured, to 4 places (half up)."""
        if not self.measured:
            return None
        return (Decimal(self.adherent) / Decimal(self.measured)).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_UP
        )


@dataclass(frozen=True)
class AdherenceHealth:
    measures: list[MeasureHealth]
    sync_enrolled: int  # patients on an active med-sync plan
    chronic_patients: int  # patients measured in any PDC measure this year (the denominator)


def adherence_measures_for_user(
    user: Principal,
    *,
    on: date,
    location_id: int | None = None,
    read: Callable[[Any], list[Any]] = list,
) -> list[MeasureHealth]:
    """Each measure's latest rate per store as of `on`, summed over the stores (a few rows:
    the latest per store and measure is picked by Postgres, DISTINCT ON). `read` lists a
    queryset's rows (a caller may answer from what it keeps)."""
    rates = measure_rates_for_user(user, year=on.year, location_id=location_id)
    latest = (
        rates.filter(as_of__lte=on)
        .order_by("location_id", "measure", "-as_of")
        .distinct("location_id", "measure")
        .values_list("measure", "as_of", "measured", "adherent")
    )
    by_measure: dict[str, list[tuple[str, date, int, int]]] = {}
    for row in read(latest):
        by_measure.setdefault(row[0], []).append(row)
    return [
        MeasureHealth(
            measure=m,
            as_of=max(r[1] for r in rs),
            measured=sum(r[2] for r in rs),
            adherent=sum(r[3] for r in rs),
        )
        for m, rs in sorted(by_measure.items())
    ]


def adherence_health_for_user(
    user: Principal,
    *,
    on: date,
    location_id: int | None = None,
    read: Callable[[Any], list[Any]] = list,
) -> AdherenceHealth:
    """The dashboards' adherence figures as of `on`: each measure's latest rate per store
    (summed over the stores), and med-sync enrollment against the chronic patients. `read`
    lists the rows of what only a worklist build changes (rates, measure results); the
    enrollment, which technicians change all day, is always counted live."""
    enrolled = SyncEnrollment.objects.for_user(user).filter(active=True)
    chronic = MeasureResult.objects.for_user(user).filter(year=on.year)
    if location_id:
        enrolled = enrolled.filter(location_id=location_id)
        chronic = chronic.filter(location_id=location_id)
    patients = chronic.order_by().values("year").annotate(n=Count("patient_id", distinct=True))
    return AdherenceHealth(
        measures=adherence_measures_for_user(user, on=on, location_id=location_id, read=read),
        sync_enrolled=enrolled.count(),
        chronic_patients=sum(row["n"] for row in read(patients)),
    )
