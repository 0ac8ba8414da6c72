"""Documenting MTM encounters: start (medication list pre-filled from fills), save a draft
(autosave), sign (locks it and bills it), amend (a new version, with who/when/why).

The caller fetches the patient or encounter through a `…_for_user` selector first; every
service checks the role (or the token's `clinical:write` scope) and writes an audit event.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from adherence.models import WorklistItem
from adherence.services.build import worklists_request
from claims.models import Patient
from clinical import mtm
from clinical.encounter_selectors import patient_fill_rows, patient_is_established
from clinical.models import Encounter, EncounterMedication, EncounterProblem
from clinical.services.billing import clinical_claim_for_encounter
from rxrevops.access import Principal, location_ids_for_user, require_role_or_scope
from rxrevops.models import AuditEvent, Role, Scope
from rxrevops.services.audit import audit_record

MTM_ROLES = (Role.OWNER, Role.PHARMACIST)
# fills this far back feed the medication list
MEDICATION_LOOKBACK_DAYS = 400
DRAFT_FIELDS = (
    "held_on",
    "mode",
    "recipient",
    "minutes",
    "new_patient",
    "allergies",
    "subjective",
    "objective",
    "assessment",
    "plan",
    "follow_up_on",
    "follow_up_note",
    "prescriber_contact",
    "prescriber_note",
)
NULLABLE_FIELDS = ("follow_up_on",)
MEDICATION_FIELDS = (
    "source",
    "name",
    "ndc",
    "how_used",
    "why_used",
    "prescriber",
    "started_on",
    "stopped_on",
    "why_stopped",
)
PROBLEM_FIELDS = (
    "medication",
    "reason_code",
    "service_code",
    "result_code",
    "talked_about",
    "patient_action",
    "note",
)


def _require_pharmacist(user: Principal) -> None:
    require_role_or_scope(
        user,
        roles=MTM_ROLES,
        scope=Scope.CLINICAL_WRITE,
        refusal="Only pharmacists and owners document MTM encounters.",
    )


def _require_store(user: Principal, location_id: int) -> None:
    if location_id not in location_ids_for_user(user, roles=MTM_ROLES):
        raise PermissionDenied("This patient is not at one of your stores.")


def _as_user(user: Principal) -> User | None:
    return user if isinstance(user, User) else None


def encounter_start(
    *,
    user: Principal,
    patient: Patient,
    kind: str = Encounter.Kind.CMR,
    worklist_item: WorklistItem | None = None,
    today: date | None = None,
    reuse_draft: bool = True,
    request: Any = None,
) -> Encounter:
    """Open a draft for `patient`, its medication list pre-filled from the pharmacy's fills.
    A draft of the same kind already open for the patient is returned instead of a second
    (or, with `reuse_draft=False`, refused: an integration must not write over it)."""
    _require_pharmacist(user)
    _require_store(user, patient.location_id)
    if kind not in Encounter.Kind.values:
        raise ValidationError({"kind": f"{kind!r} is not cmr or tmr."})
    if worklist_item is not None and worklist_item.patient_id != patient.pk:
        raise ValidationError({"worklist_item": "That worklist item is another patient's."})
    today = today or timezone.localdate()
    open_draft = Encounter.objects.filter(
        patient=patient, kind=kind, status=Encounter.Status.DRAFT, version=1
    ).first()
    if open_draft is not None:
        if not reuse_draft:
            raise ValidationError(
                {
                    "patient": f"A draft {kind.upper()} is already open for this patient "
                    f"(encounter {open_draft.pk}); finish or discard it first."
                }
            )
        return open_draft
    meds = mtm.current_medications(
        patient_fill_rows(patient.pk, since=today - timedelta(days=MEDICATION_LOOKBACK_DAYS)),
        as_of=today,
    )
    with transaction.atomic():
        enc = Encounter.objects.create(
            organization_id=patient.location.organization_id,
            location_id=patient.location_id,
            patient=patient,
            series=uuid.uuid4(),
            kind=kind,
            worklist_item=worklist_item,
            held_on=today,
            new_patient=not patient_is_established(patient.pk),
            created_by=_as_user(user),
        )
        EncounterMedication.objects.bulk_create(
            EncounterMedication(
                encounter=enc,
                position=i,
                source=EncounterMedication.Source.FILL,
                name=m.name[:200],
                ndc=m.ndc,
                prescriber=m.prescriber[:200],
                started_on=m.started_on,
            )
            for i, m in enumerate(meds)
        )
        audit_record(
            actor=user,
            action=AuditEvent.Action.CREATE,
            request=request,
            obj=enc,
            summary=f"{enc.get_kind_display()} started with {len(meds)} medications from fills",
        )
    return enc


def _require_draft(enc: Encounter) -> None:
    if enc.status != Encounter.Status.DRAFT:
        raise ValidationError(
            {"__all__": "A signed encounter cannot be edited. Amend it to make a new version."}
        )


def encounter_save(
    *,
    user: Principal,
    encounter: Encounter,
    fields: Mapping[str, Any],
    medications: Iterable[Mapping[str, Any]] | None = None,
    problems: Iterable[Mapping[str, Any]] | None = None,
    request: Any = None,
) -> Encounter:
    """Save a draft: the given fields, and the medication list and problems when given
    (each replaces the rows it had). Problem codes are checked; the rest is checked at
    signature, so a half-written draft still saves."""
    _require_pharmacist(user)
    _require_store(user, encounter.location_id)
    unknown = set(fields) - set(DRAFT_FIELDS)
    if unknown:
        raise ValidationError({f: "This field cannot be set." for f in sorted(unknown)})
    problem_rows = [dict(p) for p in problems] if problems is not None else None
    if problem_rows is not None:
        errors: dict[str, list[str]] = {}
        for i, p in enumerate(problem_rows):
            row = _problem_row(p)
            for problem in mtm.problem_row_problems(row, prefix=f"problems[{i}]."):
                # a row still being written may lack its text; a wrong code is refused now
                if problem.field.endswith("talked_about") or not getattr(
                    row, problem.field.rsplit(".", 1)[1]
                ):
                    continue
                errors.setdefault(problem.field, []).append(problem.reason)
        if errors:
            raise ValidationError(errors)
    with transaction.atomic():
        enc = Encounter.objects.select_for_update().get(pk=encounter.pk)
        _require_draft(enc)
        for name, value in fields.items():
            # an emptied box is "not entered yet": 0 minutes, blank text
            if value is None and name == "held_on":
                continue  # the date is never blanked
            if value is None and name not in NULLABLE_FIELDS:
                value = 0 if name == "minutes" else ""
            setattr(enc, name, value)
        enc.save()
        if medications is not None:
            enc.medications.all().delete()
            EncounterMedication.objects.bulk_create(
                EncounterMedication(
                    encounter=enc,
                    position=i,
                    **{k: v for k, v in m.items() if k in MEDICATION_FIELDS},
                )
                for i, m in enumerate(medications)
            )
        if problem_rows is not None:
            enc.problems.all().delete()
            EncounterProblem.objects.bulk_create(
                EncounterProblem(
                    encounter=enc,
                    position=i,
                    **{k: v for k, v in p.items() if k in PROBLEM_FIELDS},
                )
                for i, p in enumerate(problem_rows)
            )
    return enc


def _problem_row(p: Mapping[str, Any]) -> mtm.ProblemRow:
    return mtm.ProblemRow(
        reason_code=(p.get("reason_code") or "").strip().upper(),
        service_code=(p.get("service_code") or "").strip().upper(),
        result_code=(p.get("result_code") or "").strip().upper(),
        talked_about=p.get("talked_about") or "",
        patient_action=p.get("patient_action") or "",
        medication=p.get("medication") or "",
    )


def encounter_draft_view(enc: Encounter) -> mtm.EncounterDraft:
    return mtm.EncounterDraft(
        kind=enc.kind,
        held_on=enc.held_on,
        minutes=enc.minutes or 0,
        mode=enc.mode,
        assessment=enc.assessment,
        plan=enc.plan,
        medications=enc.medications.count(),
        problems=tuple(
            _problem_row({f: getattr(p, f) for f in PROBLEM_FIELDS}) for p in enc.problems.all()
        ),
        follow_up_on=enc.follow_up_on,
    )


def encounter_sign(*, user: Principal, encounter: Encounter, request: Any = None) -> Encounter:
    """Sign a draft: checks what a signature needs (field by field), locks the version,
    bills the encounter (one clinical claim per encounter series) and asks for a worklist
    rebuild so a CMR closes the patient's CMR gap."""
    _require_pharmacist(user)
    _require_store(user, encounter.location_id)
    with transaction.atomic():
        enc = Encounter.objects.select_for_update().select_related("location").get(pk=encounter.pk)
        _require_draft(enc)
        problems = mtm.signature_problems(encounter_draft_view(enc), today=timezone.localdate())
        if problems:
            errors: dict[str, list[str]] = {}
            for p in problems:
                errors.setdefault(p.field, []).append(p.reason)
            raise ValidationError(errors)
        enc.status = Encounter.Status.SIGNED
        enc.signed_by = _as_user(user)
        enc.signed_at = timezone.now()
        # CPT 99605 vs 99606 is a fact of the patient's history, decided at signature: a
        # patient with another signed MTM encounter is established, whatever the draft said
        enc.new_patient = not patient_is_established(enc.patient_id, before_series=enc.series)
        enc.save(update_fields=["status", "signed_by", "signed_at", "new_patient", "updated_at"])
        clinical_claim_for_encounter(enc)
        audit_record(
            actor=user,
            action=AuditEvent.Action.UPDATE,
            request=request,
            obj=enc,
            summary=f"{enc.get_kind_display()} v{enc.version} signed ({enc.minutes} min)",
        )
        organization = enc.location.organization
        transaction.on_commit(
            lambda: worklists_request(organization=organization, created_by=_as_user(user))
        )
    return enc


def encounter_amend(
    *, user: Principal, encounter: Encounter, reason: str, request: Any = None
) -> Encounter:
    """Start an amendment of a signed encounter: a new draft version copied from it. The
    signed version stays as it was; the amendment becomes the record once signed."""
    _require_pharmacist(user)
    _require_store(user, encounter.location_id)
    if not reason.strip():
        raise ValidationError({"amendment_reason": "Say why the signed record is amended."})
    with transaction.atomic():
        latest = (
            Encounter.objects.select_for_update()
            .filter(series=encounter.series)
            .order_by("-version")
            .first()
        )
        if latest is None:  # deleted under us: the record is gone
            raise ValidationError({"__all__": "This encounter no longer exists."})
        if latest.status == Encounter.Status.DRAFT:
            raise ValidationError(
                {"__all__": "An amendment of this encounter is already in progress."}
            )
        if latest.pk != encounter.pk:
            raise ValidationError({"__all__": "Only the latest version can be amended."})
        meds = list(encounter.medications.values(*MEDICATION_FIELDS))
        problems = list(encounter.problems.values(*PROBLEM_FIELDS))
        copy = Encounter.objects.get(pk=encounter.pk)
        copy.pk = None
        copy.version = encounter.version + 1
        copy.status = Encounter.Status.DRAFT
        copy.signed_by = None
        copy.signed_at = None
        copy.amendment_reason = reason.strip()[:300]
        copy.created_by = _as_user(user)
        copy.save(force_insert=True)
        EncounterMedication.objects.bulk_create(
            EncounterMedication(encounter=copy, position=i, **m) for i, m in enumerate(meds)
        )
        EncounterProblem.objects.bulk_create(
            EncounterProblem(encounter=copy, position=i, **p) for i, p in enumerate(problems)
        )
        audit_record(
            actor=user,
            action=AuditEvent.Action.CREATE,
            request=request,
            obj=copy,
            summary=f"Amendment v{copy.version} of {copy.get_kind_display()} started: {reason}",
        )
    return copy


def encounter_discard(*, user: Principal, encounter: Encounter, request: Any = None) -> None:
    """Throw away a draft (a first version, or an amendment in progress)."""
    _require_pharmacist(user)
    _require_store(user, encounter.location_id)
    with transaction.atomic():
        enc = Encounter.objects.select_for_update().get(pk=encounter.pk)
        _require_draft(enc)
        audit_record(
            actor=user,
            action=AuditEvent.Action.DELETE,
            request=request,
            obj=enc,
            summary=f"Draft {enc.get_kind_display()} v{enc.version} discarded",
        )
        enc.delete()
