"""Clinical claims: every signed encounter, recorded dose and point-of-care test becomes a
billable record with its CPT/HCPCS lines (rules in `clinical.billing`), and staff record
what the payer did with it. Clinical revenue per service is read from these rows.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from adherence.value import money
from claims.models import Fill, Patient
from clinical import billing
from clinical.models import ClinicalClaim, Encounter, Immunization, PointOfCareTest
from rxrevops.access import Principal, require_role_or_scope
from rxrevops.models import AuditEvent, Role, Scope
from rxrevops.services.audit import audit_record

BILLING_ROLES = (Role.OWNER, Role.PHARMACIST, Role.REVENUE)


def _fees() -> billing.FeeSchedule:
    return billing.fee_schedule(getattr(settings, "CLINICAL_FEE_SCHEDULE", None) or None)


def _payer(patient_id: int) -> str:
    """The payer a clinical service is billed to: the plan of the patient's latest paid
    fill (its name, else BIN/PCN), or self-pay."""
    plan = (
        Fill.objects.filter(patient_id=patient_id, status=Fill.Status.PAID, plan__isnull=False)
        .order_by("-date_of_service", "-pk")
        .values_list("plan__name", "plan__bin", "plan__pcn")  # not the wide fill row
        .first()
    )
    if plan is None:
        return "Self-pay"
    name, bin_, pcn = plan
    return str(name or f"BIN {bin_}" + (f" PCN {pcn}" if pcn else ""))


def _write(claim: ClinicalClaim, lines: list[billing.Line]) -> ClinicalClaim:
    # a claim already sent to the payer keeps the lines it was sent with
    if claim.pk is None or claim.status == ClinicalClaim.Status.READY:
        claim.lines = [line.as_dict() for line in lines]
        claim.billed_cents = billing.total_cents(lines)
    if not claim.payer:
        claim.payer = _payer(claim.patient_id)
    claim.save()
    return claim


def clinical_claim_for_encounter(enc: Encounter) -> ClinicalClaim:
    """The claim of an encounter series, written at each signature (an amendment changing
    the minutes re-prices a claim that was not billed yet)."""
    lines = billing.mtm_lines(minutes=enc.minutes, new_patient=enc.new_patient, fees=_fees())
    claim = ClinicalClaim.objects.filter(encounter_series=enc.series).first() or ClinicalClaim(
        organization_id=enc.organization_id,
        location_id=enc.location_id,
        patient_id=enc.patient_id,
        service=ClinicalClaim.Service.MTM,
        encounter_series=enc.series,
    )
    claim.service_date = enc.held_on
    return _write(claim, lines)


def clinical_claim_for_immunization(imm: Immunization, *, created: bool = False) -> ClinicalClaim:
    """The administration claim of a dose: 90471 for the first vaccine of the visit (the
    patient's first dose that day by entry order), 90472 for each more. `created`: the dose
    was inserted in this transaction, so it has no claim to look up yet."""
    first = (
        Immunization.objects.filter(patient_id=imm.patient_id, administered_on=imm.administered_on)
        .order_by("pk")
        .values_list("pk", flat=True)
        .first()
    )
    lines = billing.immunization_lines(first_of_visit=first == imm.pk, fees=_fees())
    if imm.billed_cents > 0:  # the pharmacist's (or the file's) own charge wins
        lines = [replace(line, cents=imm.billed_cents) for line in lines]
    claim = (
        None if created else ClinicalClaim.objects.filter(immunization=imm).first()
    ) or ClinicalClaim(
        organization_id=imm.organization_id,
        location_id=imm.location_id,
        patient_id=imm.patient_id,
        service=ClinicalClaim.Service.IMMUNIZATION,
        immunization=imm,
    )
    claim.service_date = imm.administered_on
    return _write(claim, lines)


def clinical_claim_for_poc_test(test: PointOfCareTest) -> ClinicalClaim:
    lines = billing.poc_lines(kind=test.kind, fees=_fees())
    claim = ClinicalClaim.objects.filter(poc_test=test).first() or ClinicalClaim(
        organization_id=test.organization_id,
        location_id=test.location_id,
        patient_id=test.patient_id,
        service=ClinicalClaim.Service.POC_TEST,
        poc_test=test,
    )
    claim.service_date = test.performed_on
    return _write(claim, lines)


def clinical_claim_update(
    *,
    user: Principal,
    claim: ClinicalClaim,
    status: str,
    paid_cents: int | None = None,
    note: str = "",
    request: Any = None,
) -> ClinicalClaim:
    """Record what happened to a claim: billed, paid (with the amount), denied (with the
    payer's reason) or void."""
    require_role_or_scope(
        user,
        roles=BILLING_ROLES,
        scope=Scope.CLINICAL_WRITE,
        refusal="Only owners, pharmacists and revenue staff update clinical claims.",
    )
    if status not in ClinicalClaim.Status.values:
        raise ValidationError({"status": f"{status!r} is not a claim status."})
    errors: dict[str, str] = {}
    if status == ClinicalClaim.Status.PAID:
        if paid_cents is None or paid_cents < 0:
            errors["paid_cents"] = "Enter the amount paid."
    elif paid_cents:
        errors["paid_cents"] = "Only a paid claim carries a paid amount."
    if status == ClinicalClaim.Status.DENIED and not note.strip():
        errors["note"] = "Give the payer's denial reason."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        c = ClinicalClaim.objects.select_for_update().get(pk=claim.pk)
        c.status = status
        c.paid_cents = paid_cents or 0
        c.status_note = note.strip()[:300]
        c.save(update_fields=["status", "paid_cents", "status_note", "updated_at"])
        audit_record(
            actor=user,
            action=AuditEvent.Action.UPDATE,
            request=request,
            obj=c,
            summary=f"Clinical claim {c.pk} {c.get_status_display().lower()}"
            + (f" ({money(c.paid_cents)} paid)" if c.status == ClinicalClaim.Status.PAID else ""),
        )
    return c


def poc_test_record(
    *,
    user: Principal,
    patient: Patient,
    kind: str,
    performed_on: Any,
    result: str,
    request: Any = None,
) -> PointOfCareTest:
    """Record a CLIA-waived test the pharmacist performed, and bill it."""
    from django.contrib.auth.models import User
    from django.utils import timezone

    from rxrevops.access import location_ids_for_user

    require_role_or_scope(
        user,
        roles=(Role.OWNER, Role.PHARMACIST),
        scope=Scope.CLINICAL_WRITE,
        refusal="Only pharmacists and owners record point-of-care tests.",
    )
    if patient.location_id not in location_ids_for_user(user, roles=(Role.OWNER, Role.PHARMACIST)):
        raise PermissionDenied("This patient is not at one of your stores.")
    errors: dict[str, str] = {}
    if kind not in PointOfCareTest.Kind.values:
        errors["kind"] = f"{kind!r} is not a test this pharmacy bills (a1c, strep, flu, covid)."
    if performed_on is None:
        errors["performed_on"] = "This field is required."
    elif performed_on > timezone.localdate():
        errors["performed_on"] = "A test cannot be dated in the future."
    if not result.strip():
        errors["result"] = "Enter the result."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        test = PointOfCareTest.objects.create(
            organization_id=patient.location.organization_id,
            location_id=patient.location_id,
            patient=patient,
            kind=kind,
            performed_on=performed_on,
            result=result.strip()[:100],
            performed_by=user if isinstance(user, User) else None,
        )
        clinical_claim_for_poc_test(test)
        audit_record(
            actor=user,
            action=AuditEvent.Action.CREATE,
            request=request,
            obj=test,
            summary=f"{test.get_kind_display()} test on {performed_on} recorded and billed",
        )
    return test
