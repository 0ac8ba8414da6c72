"""Reading immunizations, always through the principal's stores."""

from __future__ import annotations

from typing import Any

from adherence.caregaps import Dose
from clinical.models import Immunization
from rxrevops.access import Principal, object_get_for_user


def immunizations_for_user(user: Principal, *, patient_id: int | None = None) -> Any:
    """Doses given at the principal's stores, newest first."""
    qs = Immunization.objects.for_user(user).select_related("patient", "location")
    if patient_id is not None:
        qs = qs.filter(patient_id=patient_id)
    return qs.order_by("-administered_on", "-pk")


def immunization_get_for_user(*, user: Principal, immunization_id: int) -> Immunization:
    imm: Immunization = object_get_for_user(
        Immunization.objects.select_related("patient", "location"),
        user=user,
        pk=immunization_id,
    )
    return imm


def immunization_doses(organization_id: int) -> list[Dose]:
    """The organization's doses as care-gap history (registered with adherence at startup:
    a recorded dose closes the matching gap at the next worklist build)."""
    rows = Immunization.objects.filter(organization_id=organization_id).values_list(
        "patient_id", "cvx", "administered_on"
    )
    return [Dose(patient=str(patient), cvx=cvx, given=given) for patient, cvx, given in rows]
