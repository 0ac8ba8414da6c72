"""Working a reconciliation exception: one case per claim, moved through its statuses
(open → in progress → appealed → resolved or written off, in any order a person needs) with
a note at each step, who and when. Cases are facts about people's work: a reconciliation run
never touches them."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from claims.models import Fill
from reconciliation.case_models import CaseNote, ExceptionCase
from reconciliation.models import ClaimResult
from reconciliation.result_selectors import exceptions_for_user
from rxrevops.access import Principal, object_get_for_user, require_role_or_scope
from rxrevops.models import AuditEvent, Role, Scope
from rxrevops.services.audit import audit_record

NOTE_MAX_CHARS = 4000


def case_update(
    *,
    user: Principal,
    fill_id: int,
    status: str = "",
    note: str = "",
    request: HttpRequest | None = None,
) -> CaseNote:
    """Add a step to the claim's case: a new status, a note, or both. The case is opened on
    first touch with the exception kind and the dollars at stake of the current result.
    Owners and revenue staff only (an API token needs `remits:write`); a claim outside the
    principal's stores is a 404. Refuses an unknown status, and a step that neither changes
    the status nor says anything. Returns the note written."""
    require_role_or_scope(
        user,
        roles=(Role.OWNER, Role.REVENUE),
        scope=Scope.REMITS_WRITE,
        refusal="Only owners and revenue staff work reconciliation cases.",
    )
    fill: Fill = object_get_for_user(Fill.objects.select_related("location"), user=user, pk=fill_id)
    status = (status or "").strip()
    note = (note or "").strip()
    if status and status not in ExceptionCase.Status.values:
        raise ValidationError(
            f"Unknown case status {status!r}: use one of {', '.join(ExceptionCase.Status.values)}.",
            code="status",
        )
    if len(note) > NOTE_MAX_CHARS:
        raise ValidationError(
            f"The note is {len(note)} characters long; keep it under {NOTE_MAX_CHARS}.",
            code="note",
        )
    author = user if isinstance(user, User) else None
    with transaction.atomic():
        case, created = _case_for(user, fill, author)
        before = case.status
        changed = bool(status) and status != before
        if not changed and not note:
            raise ValidationError(
                "Write a note or choose a different status: nothing would change.", code="empty"
            )
        if changed:
            case.status = status
        case.updated_by = author
        case.save(update_fields=["status", "updated_by", "updated_at"])
        step = CaseNote.objects.create(
            case=case,
            author=author,
            text=note,
            status_from=before if changed else "",
            status_to=status if changed else "",
        )
        audit_record(
            actor=user,
            action=AuditEvent.Action.CREATE if created else AuditEvent.Action.UPDATE,
            obj=case,
            summary=(
                f"Case on Rx {fill.rx_number}-{fill.fill_number:02d} {fill.date_of_service}"
                + (f": {before} → {status}" if changed else "")
                + (" with a note" if note else "")
            ),
            request=request,
        )
    return step


def _case_for(user: Principal, fill: Fill, author: User | None) -> tuple[ExceptionCase, bool]:
    """The claim's case, locked; opened now (kind and amount from the current result) when
    nobody has touched it yet."""
    case = ExceptionCase.objects.select_for_update().filter(fill=fill).first()
    if case is not None:
        return case, False
    current = exceptions_for_user(user).filter(fill_id=fill.pk).first()
    if current is not None:
        kind, amount = current.kind, int(current.at_stake_cents)
    else:
        status = (
            ClaimResult.objects.filter(fill_id=fill.pk).values_list("status", flat=True).first()
        )
        kind, amount = status or "", 0
    case, created = ExceptionCase.objects.get_or_create(
        fill=fill,
        defaults={
            "organization_id": fill.location.organization_id,
            "location_id": fill.location_id,
            "kind": kind,
            "amount_cents": amount,
            "opened_by": author,
            "updated_by": author,
        },
    )
    if not created:  # someone opened it between our read and our insert
        case = ExceptionCase.objects.select_for_update().get(pk=case.pk)
    return case, created
