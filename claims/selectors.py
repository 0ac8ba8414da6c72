from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Q

from claims.models import Fill, Patient, Plan
from rxrevops.access import Principal, object_get_for_user


def patient_list_for_user(user: Principal, *, search: str = "") -> Any:
    """Patients of the principal's locations; every search word must match a name or the
    PMS patient id."""
    qs = Patient.objects.for_user(user).select_related("location")
    for term in search.split():
        qs = qs.filter(
            Q(last_name__istartswith=term)
            | Q(first_name__istartswith=term)
            | Q(pms_patient_id=term)
        )
    return qs


def patient_get_for_user(*, user: Principal, patient_id: int) -> Patient:
    patient: Patient = object_get_for_user(
        Patient.objects.select_related("location"), user=user, pk=patient_id
    )
    return patient


@dataclass(frozen=True)
class FillFilters:
    location: int | None = None
    since: date | None = None
    until: date | None = None
    plan: int | None = None
    status: str = ""
    drug: str = ""  # NDC or the start of the drug name
    patient: str = ""  # PMS patient id or the start of the last name


def fill_list_for_user(user: Principal, filters: FillFilters | None = None) -> Any:
    """Claim transactions the principal may see, newest first, narrowed by `filters`."""
    f = filters or FillFilters()
    qs = Fill.objects.for_user(user).select_related("location", "patient", "drug", "plan")
    if f.location:
        qs = qs.filter(location_id=f.location)
    if f.since:
        qs = qs.filter(date_of_service__gte=f.since)
    if f.until:
        qs = qs.filter(date_of_service__lte=f.until)
    if f.plan:
        qs = qs.filter(plan_id=f.plan)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.drug:
        term = f.drug.replace("-", "")
        qs = qs.filter(Q(drug__ndc=term) | Q(drug__name__istartswith=f.drug))
    if f.patient:
        qs = qs.filter(
            Q(patient__pms_patient_id=f.patient) | Q(patient__last_name__istartswith=f.patient)
        )
    return qs.order_by("-date_of_service", "-rx_number", "-pk")


def plan_list_for_user(user: Principal) -> Any:
    """Plans that appear on the principal's claims."""
    return Plan.objects.filter(
        pk__in=Fill.objects.for_user(user).values("plan_id").distinct()
    ).order_by("name", "bin")
