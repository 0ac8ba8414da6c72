"""Receiving one HL7 v2 message (HTTP or MLLP): file it, answer it, write what it says.

`hl7_receive` is the one entry point. It reads the message (the pure core), answers a
duplicate with the stored ACK, resolves the store from MSH-4 (NCPDP ID or NPI within the
organization, and among the token's stores for an API call), dispatches on MSH-9 to the
writer of that type (`integrations.services.hl7_apply`), and stores the message as received
with its outcome, ACK, errors and the ids it wrote, all in one transaction: a message is
either filed with its effects or not at all. Any input gets an ACK: a failure inside a
writer rolls its writes back and is answered AE 207 (retryable: the resend is processed).

Logs name the message type, control id and outcome only: never a field of the message.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from clinical.services.immunizations import IMMUNIZATION_ROLES
from integrations.hl7.ack import build_response, outcome_for
from integrations.hl7.messages import Issue, Parsed, Rejected, parse_message, peek_header
from integrations.models import Hl7Message
from integrations.services.hl7_apply import Applied, apply_adt, apply_rds, apply_vxu
from rxrevops.access import Principal, location_ids_for_user, require_role_or_scope
from rxrevops.models import Location, Organization, Role, Scope

log = logging.getLogger("integrations.hl7")

# what a principal needs per message type (tokens: the scope; people: one of the roles)
CLAIMS_ROLES = (Role.OWNER, Role.REVENUE, Role.PHARMACIST)
REQUIRED = {
    "RDS": (Scope.CLAIMS_WRITE, CLAIMS_ROLES),
    "ADT": (Scope.CLAIMS_WRITE, CLAIMS_ROLES),
    "VXU": (Scope.CLINICAL_WRITE, IMMUNIZATION_ROLES),
}


@dataclass
class _Answer:
    code: str
    issues: list[Issue] = field(default_factory=list)
    linked: dict[str, object] = field(default_factory=dict)
    location: Location | None = None
    retryable: bool = False


def _digest(text: str) -> str:
    # the same message by MLLP or HTTP may differ only in line ends and framing whitespace
    normalized = text.strip("\x0b\x1c\r\n ").replace("\r\n", "\r").replace("\n", "\r")
    return hashlib.sha256(normalized.encode("utf-8", "surrogateescape")).hexdigest()


def hl7_principal_check(*, principal: Principal, message_type: str) -> None:
    """PermissionDenied unless the principal may send this type (RDS and ADT: claims:write,
    VXU: clinical:write; people need a role that writes claims or records immunizations).
    Types we do not take need nothing more than being signed in: they are answered AR."""
    if message_type not in REQUIRED:
        return
    scope, roles = REQUIRED[message_type]
    require_role_or_scope(
        principal,
        roles=roles,
        scope=scope,
        refusal=f"Your role does not allow sending {message_type} messages.",
    )


def location_for_facility(
    *, organization: Organization, facility: str, principal: Principal | None = None
) -> Location | None:
    """The store whose NCPDP ID or NPI is `facility`, within `organization` (and, for an API
    principal, among the stores it reaches). None for any other value: another
    organization's store answers the same as no store."""
    facility = facility.strip()
    if not facility:
        return None
    stores = Location.objects.filter(Q(ncpdp_id=facility) | Q(npi=facility))
    if principal is not None:
        stores = stores.filter(pk__in=location_ids_for_user(principal))
    else:
        stores = stores.filter(organization=organization)
    return stores.select_related("organization").first()


def hl7_receive(
    *,
    organization: Organization,
    text: str,
    transport: str,
    principal: Principal | None = None,
) -> tuple[Hl7Message, str]:
    """File and answer one message; returns the stored row and the ACK text. Raises
    PermissionDenied (before anything is written) when `principal` may not send this type."""
    # Postgres text holds no NUL: such a byte is shown as U+FFFD (the ACK names the problem)
    text = text.replace("\x00", "\ufffd")
    facility, control_id, kind = peek_header(text)
    if principal is not None:
        hl7_principal_check(principal=principal, message_type=kind.split("^")[0].upper())
    digest = _digest(text)
    duplicate = _stored(organization, facility, control_id, digest)
    if duplicate is not None:
        return duplicate
    now = timezone.now()
    try:
        with transaction.atomic():
            message = Hl7Message.objects.create(
                organization=organization,
                transport=transport,
                message_type=kind,
                control_id=control_id,
                sending_facility=facility,
                raw=text,
                raw_sha256=digest,
                received_at=now,
                last_received_at=now,
            )
            answer = _process(organization, text, facility, principal)
            ack = build_response(text, code=answer.code, issues=answer.issues, sent_at=now)
            message.location = answer.location
            message.outcome = answer.code
            message.ack = ack
            message.errors = [i.as_dict() for i in answer.issues]
            message.linked = answer.linked
            message.retryable = answer.retryable
            message.save(
                update_fields=["location", "outcome", "ack", "errors", "linked", "retryable"]
            )
    except IntegrityError:
        # the same message on another connection got filed first: answer as it was answered
        duplicate = _stored(organization, facility, control_id, digest)
        if duplicate is None:
            raise
        return duplicate
    log.info("hl7 %s %s %s %s", transport, kind or "?", control_id or "?", answer.code)
    return message, ack


def _stored(
    organization: Organization, facility: str, control_id: str, digest: str
) -> tuple[Hl7Message, str] | None:
    stored = Hl7Message.objects.filter(
        organization=organization,
        sending_facility=facility,
        control_id=control_id,
        raw_sha256=digest,
        retryable=False,
    ).first()
    if stored is None:
        return None
    Hl7Message.objects.filter(pk=stored.pk).update(
        times_received=F("times_received") + 1, last_received_at=timezone.now()
    )
    log.info("hl7 duplicate %s %s %s", stored.message_type, stored.control_id, stored.outcome)
    return stored, stored.ack


def _process(
    organization: Organization, text: str, facility: str, principal: Principal | None
) -> _Answer:
    try:
        parsed = parse_message(text)
    except Rejected as exc:
        return _Answer("AR", [exc.issue])
    location = location_for_facility(
        organization=organization, facility=facility, principal=principal
    )
    if location is None:
        issue = Issue(
            f"MSH-4 sending facility {facility!r} is not the NCPDP ID or NPI of a store "
            "this connection may send for.",
            "MSH",
            4,
            code="204",
        )
        return _Answer("AR", [issue])
    try:
        with transaction.atomic():
            applied = _apply(parsed, location, principal)
    except Exception:
        # never a 500 or a dropped connection for a message: the writes are rolled back and
        # the sender told to try again later (the row is retryable, so a resend is processed)
        log.exception("hl7 %s %s failed", parsed.header.kind, parsed.header.control_id)
        issue = Issue(
            "The message could not be processed because of an internal error; nothing from "
            "it was stored. Send it again later.",
            code="207",
        )
        return _Answer("AE", [issue], location=location, retryable=True)
    issues = [*parsed.issues, *applied.issues]
    return _Answer(outcome_for(issues), issues, applied.linked, location)


def _apply(parsed: Parsed, location: Location, principal: Principal | None) -> Applied:
    kind = parsed.header.message_type
    if kind == "RDS":
        return apply_rds(parsed, location=location, principal=principal)
    if kind == "VXU":
        return apply_vxu(parsed, location=location)
    return apply_adt(parsed, location=location)
