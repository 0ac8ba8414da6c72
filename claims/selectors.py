from __future__ import annotations

from typing import Any

from django.db.models import Q

from claims.models import Patient
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
