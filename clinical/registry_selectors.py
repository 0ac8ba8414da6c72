"""Reading the immunization registry outbox, always through the principal's stores."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from django.db.models import Count
from django.utils import timezone
from django.utils.formats import date_format

from clinical.hl7.ack import AckError, AckIssue, parse_ack
from clinical.models import ImmunizationRegistry, RegistryMessage
from rxrevops.access import Principal, location_list_for_user, object_get_for_user
from rxrevops.models import Location

Status = RegistryMessage.Status


def registry_serving(location: Location) -> ImmunizationRegistry | None:
    """The enabled registry a store reports to: its organization's registry for the state the
    store is in, or None when none is set up."""
    if not location.state:
        return None
    registry: ImmunizationRegistry | None = ImmunizationRegistry.objects.filter(
        organization_id=location.organization_id, state=location.state.upper(), enabled=True
    ).first()
    return registry


def registry_messages_for_user(user: Principal, *, status: str = "") -> Any:
    """Outbox messages of the principal's stores, newest first, optionally of one status."""
    qs = RegistryMessage.objects.for_user(user).select_related(
        "immunization", "immunization__patient", "location", "registry"
    )
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-pk")


def registry_message_get_for_user(*, user: Principal, message_id: int) -> RegistryMessage:
    message: RegistryMessage = object_get_for_user(
        RegistryMessage.objects.select_related(
            "immunization", "immunization__patient", "location", "registry"
        ),
        user=user,
        pk=message_id,
    )
    return message


@dataclass(frozen=True)
class StatusCount:
    status: str
    label: str
    count: int


def registry_status_counts_for_user(user: Principal) -> list[StatusCount]:
    """How many of the principal's messages are in each status, every status listed."""
    counts = dict(
        RegistryMessage.objects.for_user(user)
        .order_by()
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    return [StatusCount(s.value, str(s.label), counts.get(s.value, 0)) for s in Status]


def locations_without_registry_for_user(user: Principal) -> list[Location]:
    """The principal's active stores whose doses go to no registry (none set up, or turned
    off, for the store's state)."""
    stores = list(location_list_for_user(user).filter(is_active=True))
    served = set(
        ImmunizationRegistry.objects.filter(
            organization_id__in={loc.organization_id for loc in stores}, enabled=True
        ).values_list("organization_id", "state")
    )
    return [loc for loc in stores if (loc.organization_id, loc.state.upper()) not in served]


def registry_message_ids_due(*, now: Any, limit: int = 500) -> list[int]:
    """Messages whose next send is due: queued or waiting to retry, and sends that stalled
    (a worker died mid-send) once their lease ran out. Oldest first."""
    return list(
        RegistryMessage.objects.filter(
            status__in=[Status.QUEUED, Status.RETRYING, Status.SENDING],
            next_attempt_at__lte=now,
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


# --- the message page ------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentLine:
    name: str
    text: str
    flagged: bool = False  # a segment the registry's ERR names


@dataclass(frozen=True)
class MessageDetail:
    message: RegistryMessage
    explanation: str  # what happened, in plain words, and what to do
    vxu: list[SegmentLine]
    ack: list[SegmentLine]
    issues: list[AckIssue]


def _lines(text: str, flagged: frozenset[str] = frozenset()) -> list[SegmentLine]:
    rows = text.replace("\r\n", "\r").replace("\n", "\r").split("\r")
    return [SegmentLine(r[:3], r, r[:3] in flagged) for r in rows if r.strip()]


def registry_message_explanation(message: RegistryMessage, issues: list[AckIssue]) -> str:
    registry = message.registry.name
    when = (
        date_format(timezone.localtime(message.next_attempt_at), "M j, H:i")
        if message.next_attempt_at
        else ""
    )
    first = issues[0].describe() if issues else (message.last_error.splitlines() or [""])[0]
    if message.status == Status.ACCEPTED:
        return f"{registry} accepted this dose."
    if message.status == Status.ACCEPTED_WITH_WARNINGS:
        return (
            f"{registry} accepted this dose with a remark: {first} Nothing needs to be done "
            "unless the remark shows a mistake in the dose."
        )
    if message.status == Status.REJECTED:
        return (
            f"{registry} did not take this dose. It said: {first} Correct the dose (or the "
            "registry settings), then press Resend."
        )
    if message.status == Status.RETRYING:
        return (
            f"Not delivered yet: {first} The outbox tries again by itself at {when} "
            f"(attempt {message.attempts + 1})."
        )
    if message.status == Status.FAILED:
        return f"Not delivered: {first}"
    if message.status == Status.SENDING:
        return f"Being sent to {registry} now."
    return f"Waiting to be sent to {registry}."


def registry_message_detail(message: RegistryMessage) -> MessageDetail:
    """What the message page shows: the VXU and ACK segment by segment (the segments the
    registry complained about flagged) and the outcome in plain words."""
    issues: list[AckIssue] = []
    if message.ack:
        with contextlib.suppress(AckError):  # an unreadable answer is shown as it came
            ack = parse_ack(message.ack)
            issues = [*ack.errors, *ack.warnings]
    flagged = frozenset(i.location.split("-")[0] for i in issues if i.location)
    return MessageDetail(
        message=message,
        explanation=registry_message_explanation(message, issues),
        vxu=_lines(message.er7, flagged),
        ack=_lines(message.ack),
        issues=issues,
    )
