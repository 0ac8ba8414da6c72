"""What staff do on worklists: log a call, explain a gap, enrol a patient in med sync.

Every function takes the acting principal and an object already fetched through a
`…_for_user` selector, checks the role, writes in one transaction and records an audit event.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from adherence import medsync
from adherence.models import GapReason, Outreach, SyncEnrollment, WorklistItem
from claims.models import Patient, Prescription
from rxrevops.access import Principal, require_role_or_scope
from rxrevops.models import AuditEvent, Role, Scope
from rxrevops.services.audit import audit_record

WORKLIST_ROLES = (Role.OWNER, Role.TECHNICIAN, Role.PHARMACIST)
# outcomes that end the item (the rest leave it open for another try)
ENDING_OUTCOMES = frozenset(
    {
        Outreach.Outcome.REACHED_NO_CHANGES,
        Outreach.Outcome.REACHED_CHANGES,
        Outreach.Outcome.READY_TO_FILL,
        Outreach.Outcome.DECLINED,
    }
)
# med-sync outcomes that put the fills on the refill queue
QUEUE_OUTCOMES = frozenset(
    {
        Outreach.Outcome.REACHED_NO_CHANGES,
        Outreach.Outcome.REACHED_CHANGES,
        Outreach.Outcome.READY_TO_FILL,
    }
)


def _person(user: Principal) -> User | None:
    """The signed-in user behind an action (None for an API token)."""
    return user if isinstance(user, User) else None


def _require_worklist_role(user: Principal) -> None:
    require_role_or_scope(
        user,
        roles=WORKLIST_ROLES,
        scope=Scope.WORKLISTS_WRITE,
        refusal="Only owners, technicians and pharmacists work the lists.",
    )


def outreach_record(
    *,
    user: Principal,
    item: WorklistItem,
    outcome: str,
    note: str = "",
    via_api: bool = False,
    request: Any = None,
) -> Outreach:
    """Log one call on `item` and move the item: an ending outcome closes it (done), "not
    reached" leaves it open with one more attempt counted. A call on an item already done
    or no longer due is still logged (the history is what happened) and changes its status
    only for an ending outcome."""
    _require_worklist_role(user)
    if outcome not in Outreach.Outcome.values:
        raise ValidationError({"outcome": f"Unknown outcome {outcome!r}."})
    with transaction.atomic():
        locked = WorklistItem.objects.select_for_update().get(pk=item.pk)
        entry = Outreach.objects.create(
            item=locked,
            location_id=locked.location_id,
            patient_id=locked.patient_id,
            outcome=outcome,
            note=note[:500],
            by=_person(user),
            via_api=via_api,
        )
        fields: dict[str, Any] = {
            "last_outcome": outcome,
            "last_outreach_at": entry.at,
            "attempts": F("attempts") + 1,
        }
        if outcome in ENDING_OUTCOMES:
            fields["status"] = WorklistItem.Status.DONE
        WorklistItem.objects.filter(pk=locked.pk).update(**fields)
        audit_record(
            actor=user,
            action=AuditEvent.Action.UPDATE,
            request=request,
            obj=locked,
            summary=f"Call logged on {locked.code}: {outcome}",
        )
    item.refresh_from_db()
    return entry


def gap_reason_record(
    *,
    user: Principal,
    patient: Patient,
    reason: str,
    starts_on: date,
    ends_on: date | None = None,
    measure: str = "",
    note: str = "",
    request: Any = None,
) -> GapReason:
    """Record why a patient has a gap; their open refill items for the measure (every measure
    when blank) are closed now, and the build leaves them off while the reason applies."""
    _require_worklist_role(user)
    if reason not in GapReason.Reason.values:
        raise ValidationError({"reason": f"Unknown reason {reason!r}."})
    if ends_on is not None and ends_on < starts_on:
        raise ValidationError({"ends_on": "The end date is before the start date."})
    with transaction.atomic():
        gap = GapReason.objects.create(
            location_id=patient.location_id,
            patient=patient,
            measure=measure,
            reason=reason,
            note=note[:300],
            starts_on=starts_on,
            ends_on=ends_on,
            created_by=_person(user),
        )
        today = timezone.localdate()
        if starts_on <= today and (ends_on is None or ends_on >= today):
            items = WorklistItem.objects.filter(
                patient=patient, kind=WorklistItem.Kind.REFILL, status=WorklistItem.Status.OPEN
            )
            if measure:
                items = items.filter(details__measure=measure)
            items.update(status=WorklistItem.Status.RESOLVED)
        audit_record(
            actor=user,
            action=AuditEvent.Action.CREATE,
            request=request,
            obj=patient,
            summary=f"Gap reason {reason} recorded for {measure or 'every measure'}",
        )
    return gap


def sync_enroll(
    *,
    user: Principal,
    patient: Patient,
    first_sync_date: date,
    cycle_days: int,
    prescriptions: Sequence[Prescription] = (),
    anchor: Prescription | None = None,
    request: Any = None,
) -> SyncEnrollment:
    """Enrol (or re-plan) a patient: their chosen prescriptions are picked up together every
    `cycle_days` from `first_sync_date`. The next build puts the call on the list."""
    _require_worklist_role(user)
    if cycle_days not in medsync.CYCLES:
        raise ValidationError({"cycle_days": f"Choose a cycle of {medsync.CYCLES} days."})
    for rx in [*prescriptions, *([anchor] if anchor else [])]:
        if rx.patient_id != patient.pk:
            raise ValidationError({"prescriptions": "A prescription is not this patient's."})
    with transaction.atomic():
        enrollment, created = SyncEnrollment.objects.update_or_create(
            patient=patient,
            defaults={
                "location_id": patient.location_id,
                "first_sync_date": first_sync_date,
                "cycle_days": cycle_days,
                "anchor": anchor,
                "active": True,
                "source": SyncEnrollment.Source.STAFF,
                "enrolled_by": _person(user),
            },
        )
        enrollment.prescriptions.set(prescriptions)
        Patient.objects.filter(pk=patient.pk).update(med_sync_enrolled=True)
        audit_record(
            actor=user,
            action=AuditEvent.Action.CREATE if created else AuditEvent.Action.UPDATE,
            request=request,
            obj=patient,
            summary=f"Med sync every {cycle_days} days from {first_sync_date}",
        )
    return enrollment


def sync_unenroll(*, user: Principal, enrollment: SyncEnrollment, request: Any = None) -> None:
    _require_worklist_role(user)
    with transaction.atomic():
        SyncEnrollment.objects.filter(pk=enrollment.pk).update(active=False)
        WorklistItem.objects.filter(
            patient_id=enrollment.patient_id,
            kind=WorklistItem.Kind.MED_SYNC,
            status=WorklistItem.Status.OPEN,
        ).update(status=WorklistItem.Status.RESOLVED)
        audit_record(
            actor=user,
            action=AuditEvent.Action.UPDATE,
            request=request,
            obj=enrollment.patient,
            summary="Med sync stopped",
        )
