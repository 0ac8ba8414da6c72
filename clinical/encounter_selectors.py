"""Reading MTM encounters, clinical claims and the pharmacist's day, always through the
principal's stores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from django.db.models import Count, Exists, Max, Min, OuterRef, Q, Sum

from adherence.models import WorklistItem
from adherence.selectors import worklist_items_for_user
from claims.models import Fill
from clinical.models import ClinicalClaim, Encounter, PointOfCareTest
from clinical.mtm import FillRow
from rxrevops.access import Principal, object_get_for_user

# how far ahead the pharmacist home looks for follow-ups
FOLLOW_UP_HORIZON_DAYS = 7


def encounters_for_user(
    user: Principal, *, status: str | None = None, patient_id: int | None = None
) -> Any:
    qs = Encounter.objects.for_user(user).select_related("patient", "location", "signed_by")
    if status:
        qs = qs.filter(status=status)
    if patient_id is not None:
        qs = qs.filter(patient_id=patient_id)
    return qs.order_by("-held_on", "-pk")


def encounters_current_for_user(user: Principal, **filters: Any) -> Any:
    """One row per encounter series: its latest version (a draft amendment, else the
    signed record)."""
    later = Encounter.objects.filter(series=OuterRef("series"), version__gt=OuterRef("version"))
    return encounters_for_user(user, **filters).filter(~Exists(later))


def encounter_get_for_user(*, user: Principal, encounter_id: int) -> Encounter:
    enc: Encounter = object_get_for_user(
        Encounter.objects.select_related("patient", "location", "signed_by", "created_by"),
        user=user,
        pk=encounter_id,
    )
    return enc


def encounter_versions(series: UUID) -> Any:
    return (
        Encounter.objects.filter(series=series)
        .select_related("signed_by", "created_by")
        .order_by("-version")
    )


def patient_is_established(patient_id: int, *, before_series: UUID | None = None) -> bool:
    """CPT: a patient is established once an MTM encounter with them has been signed."""
    qs = Encounter.objects.filter(patient_id=patient_id, status=Encounter.Status.SIGNED)
    if before_series is not None:
        qs = qs.exclude(series=before_series)
    return qs.exists()


def patient_fill_rows(patient_id: int, *, since: date) -> list[FillRow]:
    """The patient's paid and cash fills since `since`, for the medication-list prefill."""
    fills = (
        Fill.objects.filter(patient_id=patient_id, date_of_service__gte=since)
        .exclude(status=Fill.Status.REVERSED)
        .select_related("drug", "prescription__prescriber")
        .order_by("date_of_service")
    )
    firsts = dict(
        Fill.objects.filter(patient_id=patient_id)
        .exclude(status=Fill.Status.REVERSED)
        .values("drug__ndc")
        .annotate(first=Min("date_of_service"))
        .values_list("drug__ndc", "first")
    )
    rows = []
    for f in fills:
        prescriber = f.prescription.prescriber if f.prescription_id else None
        rows.append(
            FillRow(
                drug=f.drug.name or f.drug.generic_name or f.drug.ndc,
                ndc=f.drug.ndc,
                rx_number=f.rx_number,
                date_of_service=f.date_of_service,
                days_supply=f.days_supply,
                prescriber=(prescriber.name or f"NPI {prescriber.npi}") if prescriber else "",
                first_filled=firsts.get(f.drug.ndc, f.date_of_service),
            )
        )
    return rows


def signed_cmrs(organization_id: int, year: int) -> dict[str, date]:
    """{patient id as text: last signed CMR date} in `year`; registered with adherence as
    CMR history, so a signed CMR closes the patient's CMR gap at the next worklist build."""
    rows = (
        Encounter.objects.filter(
            organization_id=organization_id,
            kind=Encounter.Kind.CMR,
            status=Encounter.Status.SIGNED,
            held_on__year=year,
        )
        .values("patient_id")
        .annotate(last=Max("held_on"))
        .values_list("patient_id", "last")
    )
    return {str(patient): last for patient, last in rows}


@dataclass(frozen=True)
class PharmacistDay:
    cmrs_due: list[WorklistItem]
    cmrs_due_count: int
    drafts: list[Encounter]
    follow_ups: list[Encounter]
    recent: list[Encounter]


def pharmacist_day_for_user(user: Principal, *, today: date, limit: int = 15) -> PharmacistDay:
    """The pharmacist home: CMR-eligible patients by value, drafts to finish, follow-ups
    due within a week (of signed encounters not followed by a later one) and recent sign-offs."""
    cmrs = worklist_items_for_user(user).filter(
        kind=WorklistItem.Kind.CARE_GAP,
        status=WorklistItem.Status.OPEN,
        code__startswith="cmr:",
    )
    current = encounters_current_for_user(user)
    later = Encounter.objects.filter(
        patient_id=OuterRef("patient_id"), held_on__gt=OuterRef("held_on")
    )
    follow_ups = (
        current.filter(
            status=Encounter.Status.SIGNED,
            follow_up_on__isnull=False,
            follow_up_on__lte=today + timedelta(days=FOLLOW_UP_HORIZON_DAYS),
        )
        .filter(~Exists(later))
        .order_by("follow_up_on", "pk")
    )
    return PharmacistDay(
        cmrs_due=list(
            cmrs.select_related("patient", "location").order_by("-value_cents", "pk")[:limit]
        ),
        cmrs_due_count=cmrs.count(),
        drafts=list(current.filter(status=Encounter.Status.DRAFT).order_by("-updated_at")[:limit]),
        follow_ups=list(follow_ups[:limit]),
        recent=list(current.filter(status=Encounter.Status.SIGNED).order_by("-signed_at")[:limit]),
    )


def clinical_claims_for_user(
    user: Principal, *, since: date | None = None, until: date | None = None, service: str = ""
) -> Any:
    qs = ClinicalClaim.objects.for_user(user).select_related("patient", "location")
    if since:
        qs = qs.filter(service_date__gte=since)
    if until:
        qs = qs.filter(service_date__lte=until)
    if service:
        qs = qs.filter(service=service)
    return qs.order_by("-service_date", "-pk")


def clinical_claim_get_for_user(*, user: Principal, claim_id: int) -> ClinicalClaim:
    claim: ClinicalClaim = object_get_for_user(
        ClinicalClaim.objects.select_related("patient", "location"), user=user, pk=claim_id
    )
    return claim


@dataclass(frozen=True)
class ServiceRevenue:
    service: str
    label: str
    claims: int
    billed_cents: int
    paid_cents: int
    open_cents: int  # billed and not yet paid or denied


def clinical_revenue_for_user(
    user: Principal, *, since: date | None = None, until: date | None = None
) -> list[ServiceRevenue]:
    """Clinical revenue per service: billed, paid and still open (void claims left out)."""
    rows = (
        clinical_claims_for_user(user, since=since, until=until)
        .exclude(status=ClinicalClaim.Status.VOID)
        .order_by()
        .values("service")
        .annotate(
            claims=Count("pk"),
            billed=Sum("billed_cents"),
            paid=Sum("paid_cents"),
            open=Sum(
                "billed_cents",
                filter=Q(status__in=[ClinicalClaim.Status.READY, ClinicalClaim.Status.BILLED]),
            ),
        )
    )
    found = {r["service"]: r for r in rows}
    return [
        ServiceRevenue(
            service=value,
            label=label,
            claims=found.get(value, {}).get("claims", 0),
            billed_cents=found.get(value, {}).get("billed") or 0,
            paid_cents=found.get(value, {}).get("paid") or 0,
            open_cents=found.get(value, {}).get("open") or 0,
        )
        for value, label in ClinicalClaim.Service.choices
    ]


def poc_tests_for_user(user: Principal, *, patient_id: int | None = None) -> Any:
    qs = PointOfCareTest.objects.for_user(user).select_related("patient", "location")
    if patient_id is not None:
        qs = qs.filter(patient_id=patient_id)
    return qs.order_by("-performed_on", "-pk")


def clinical_revenue_by_location_for_user(
    user: Principal, *, since: date | None = None, until: date | None = None
) -> dict[int, tuple[int, int]]:
    """{location id: (billed cents, paid cents)} of clinical claims, void ones left out."""
    rows = (
        clinical_claims_for_user(user, since=since, until=until)
        .exclude(status=ClinicalClaim.Status.VOID)
        .order_by()
        .values("location_id")
        .annotate(billed=Sum("billed_cents"), paid=Sum("paid_cents"))
    )
    return {r["location_id"]: (r["billed"] or 0, r["paid"] or 0) for r in rows}
