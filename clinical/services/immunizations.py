"""Recording immunizations a pharmacist gave.

The caller fetches the patient through `patient_get_for_user` first; the service checks the
role and the store again, runs the pure dose checks, writes in one transaction and records an
audit event. The next worklist build reads the dose (see `clinical.selectors`) and closes
the matching care gap.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from claims.models import Patient
from clinical.hl7.vxu import (
    FUNDING_ELIGIBILITY,
    ROUTES,
    SITES,
    cvx_mvx_table,
    route_code,
    validate_dose,
)
from clinical.models import Immunization
from clinical.services.billing import clinical_claim_for_immunization
from clinical.services.registry import registry_message_enqueue
from rxrevops.access import Principal, location_ids_for_user, require_role_or_scope
from rxrevops.models import AuditEvent, Role, Scope
from rxrevops.services.audit import audit_record

IMMUNIZATION_ROLES = (Role.OWNER, Role.PHARMACIST)


def _require_immunizer(user: Principal) -> None:
    require_role_or_scope(
        user,
        roles=IMMUNIZATION_ROLES,
        scope=Scope.CLINICAL_WRITE,
        refusal="Only pharmacists and owners record immunizations.",
    )


def immunization_record(
    *,
    user: Principal,
    patient: Patient,
    administered_on: date | None,
    cvx: str,
    mvx: str,
    lot: str,
    expiration: date | None,
    dose_ml: Decimal | str | None,
    site: str,
    route: str,
    vis_edition_date: date | None,
    vis_given_on: date | None,
    funding_eligibility: str,
    vaccine: str = "",
    administered_by: User | None = None,
    administering_npi: str = "",
    billed_cents: int = 0,
    request: Any = None,
) -> Immunization:
    """Record one administered dose. Missing or unknown fields, an expired lot and a CVX/MVX
    mismatch are refused with a `ValidationError` naming each field."""
    _require_immunizer(user)
    if patient.location_id not in location_ids_for_user(user, roles=IMMUNIZATION_ROLES):
        raise PermissionDenied("This patient is not at one of your stores.")

    # normalize at the edge, once: codes upper-case, route "IM" -> NCIT "C28161"
    mvx, site, fe = mvx.strip().upper(), site.strip().upper(), funding_eligibility.strip().upper()
    route, lot, npi = route_code(route), lot.strip(), administering_npi.strip()
    errors: dict[str, list[str]] = {}

    def refuse(field: str, reason: str) -> None:
        errors.setdefault(field, []).append(reason)

    required = {
        "administered_on": administered_on,
        "cvx": cvx.strip(),
        "mvx": mvx,
        "lot": lot,
        "expiration": expiration,
        "dose_ml": dose_ml,
        "site": site,
        "route": route,
        "vis_edition_date": vis_edition_date,
        "vis_given_on": vis_given_on,
        "funding_eligibility": fe,
    }
    for field, value in required.items():
        if value in (None, ""):
            refuse(field, "This field is required.")
    dose = None
    if dose_ml not in (None, ""):
        try:
            dose = Decimal(str(dose_ml))
        except InvalidOperation:
            refuse("dose_ml", f"{dose_ml!r} is not a number of mL.")
    if site and site not in SITES:
        refuse("site", f"{site!r} is not an HL7 0163 site ({', '.join(SITES)}).")
    if route and route not in ROUTES:
        refuse("route", f"{route!r} is not a known route (IM, SC, ID, NS, PO or an NCIT code).")
    if fe and fe not in FUNDING_ELIGIBILITY:
        refuse("funding_eligibility", f"{fe!r} is not a VFC eligibility code (V01-V07).")
    if npi and not (npi.isdigit() and len(npi) == 10):
        refuse("administering_npi", "An NPI is 10 digits.")
    if vis_given_on and administered_on and vis_given_on > administered_on:
        refuse("vis_given_on", "The VIS is given on or before the administration date.")
    if administered_on is not None:
        for problem in validate_dose(
            cvx=cvx,
            mvx=mvx,
            administered_on=administered_on,
            expiration=expiration,
            dose_ml=dose,
            today=timezone.localdate(),
        ):
            refuse(problem.field, problem.reason)
    if (
        errors
        or administered_on is None  # the rest of this test is for the type checker:
        or expiration is None  # a missing value is already in `errors`
        or dose is None
        or vis_edition_date is None
        or vis_given_on is None
    ):
        raise ValidationError(errors)

    table = cvx_mvx_table()
    code = table.canonical_cvx(cvx) or cvx.strip()
    if administered_by is None and isinstance(user, User):
        administered_by = user
    already = Immunization.objects.filter(
        location_id=patient.location_id,
        patient=patient,
        cvx=code,
        administered_on=administered_on,
        lot=lot,
    )
    if already.exists():
        raise ValidationError(
            {"lot": "This dose (same vaccine, lot and date) is already recorded for the patient."}
        )
    with transaction.atomic():
        imm = Immunization.objects.create(
            organization_id=patient.location.organization_id,
            location_id=patient.location_id,
            patient=patient,
            administered_on=administered_on,
            cvx=code,
            mvx=mvx,
            vaccine=(vaccine.strip() or table.vaccines[code])[:200],
            lot=lot,
            expiration=expiration,
            dose_ml=dose,
            site=site,
            route=route,
            vis_edition_date=vis_edition_date,
            vis_given_on=vis_given_on,
            administered_by=administered_by,
            administering_npi=npi,
            funding_eligibility=fe,
            billed_cents=billed_cents,
            recorded_by=user if isinstance(user, User) else None,
        )
        audit_record(
            actor=user,
            action=AuditEvent.Action.CREATE,
            request=request,
            obj=imm,
            summary=f"Immunization CVX {code} lot {lot} on {administered_on} recorded",
        )
        # the outbox row commits with the dose; its send is queued once both are committed
        registry_message_enqueue(immunization=imm)
        clinical_claim_for_immunization(imm)
    return imm
