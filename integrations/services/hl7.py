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
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from clinical.services.immunizations import IMMUNIZATION_ROLES
from integrations.hl7.ack import build_response, outcome_for
from integrations.hl7.messages import Issue, Parsed, Rejected, parse_message, peek_header
from integrations.models import Hl7Message
from integrations.services.hl7_apply import Applied, apply_adt, apply_rds, apply_vxu
from rxrevops.access import (
    Principal,
    TokenPrincipal,
    home_organization_id_for_user,
    location_ids_for_user,
    require_role_or_scope,
)
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


# an MLLP listener asks for the same few stores all day: their ids by NCPDP ID and NPI are
# kept per organization for this long (a store added or renumbered is seen within it)
_STORE_CACHE_SECONDS = 30.0
_store_cache: dict[int, tuple[float, dict[str, tuple[int, str]]]] = {}


def _stores(organization_id: int) -> dict[str, tuple[int, str]]:
    """NCPDP ID and NPI -> (location id, NCPDP ID) for the organization's stores."""
    now = time.monotonic()
    cached = _store_cache.get(organization_id)
    if cached is None or cached[0] < now:
        stores: dict[str, tuple[int, str]] = {}
        rows = Location.objects.filter(organization_id=organization_id).values_list(
            "pk", "ncpdp_id", "npi"
        )
        for pk, ncpdp, npi in rows:
            stores[ncpdp] = stores[npi] = (pk, ncpdp)
        cached = (now + _STORE_CACHE_SECONDS, stores)
        _store_cache[organization_id] = cached
    return cached[1]


def _sendable_location_ids(principal: Principal, message_type: str) -> frozenset[int]:
    """The stores where the principal may send this type: a token's stores; a person's
    stores where they hold a role that writes what the message writes."""
    roles = REQUIRED[message_type][1] if message_type in REQUIRED else ()
    return location_ids_for_user(principal, roles=tuple(roles))


def location_for_facility(
    *,
    organization: Organization,
    facility: str,
    principal: Principal | None = None,
    message_type: str = "",
) -> Location | None:
    """The store whose NCPDP ID or NPI is `facility`, within `organization` (for an API
    principal: among the stores where it may send `message_type`). None for any other value:
    another organization's store answers the same as no store."""
    facility = facility.strip()
    if not facility:
        return None
    if principal is not None:
        return (
            Location.objects.filter(Q(ncpdp_id=facility) | Q(npi=facility))
            .filter(
                organization=organization,
                pk__in=_sendable_location_ids(principal, message_type),
            )
            .select_related("organization")
            .order_by()
            .first()
        )
    found = _stores(organization.pk).get(facility)
    if found is None:
        return None
    # no query per message: the writers use the store's id, NCPDP ID and organization
    location = Location(pk=found[0], organization=organization, ncpdp_id=found[1])
    return location


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
    key = _Key(organization.pk, facility, control_id, _digest(text))
    # no look for a stored copy first (a round trip per message): a copy is rare, and its
    # writes are rolled back when the filing finds the original (`_FiledBefore`)
    now = timezone.now()
    message = Hl7Message(
        organization=organization,
        transport=transport,
        message_type=kind,
        control_id=control_id,
        sending_facility=facility,
        raw=text,
        raw_sha256=key.digest,
        received_at=now,
        last_received_at=now,
    )
    try:
        with transaction.atomic():
            answer = _process(organization, text, facility, principal)
            ack = _file(message, answer, now)
    except _FiledBefore:
        # the same message was filed before (a resend, or a copy on another connection that
        # got there first): its writes stand, this one's were rolled back; answer as it was
        duplicate = _stored(key)
        if duplicate is None:  # cannot happen: the row that conflicted is not retryable
            raise RuntimeError("duplicate HL7 message vanished") from None
        return _as_answered_to(principal, duplicate, kind.split("^")[0].upper(), now)
    except Exception as exc:
        # never a 500 or a dropped connection for a message: the writes are rolled back and
        # the sender told to try again later (the row is retryable, so a resend is processed).
        # The log names the error's type only: a database error's text can quote values
        # (PHI); the whole of it is kept on the stored row for support.
        log.error("hl7 %s %s failed: %s", kind or "?", control_id or "?", type(exc).__name__)
        duplicate = _stored(key)  # a resend of a message filed before is answered as it was
        if duplicate is not None:
            return _as_answered_to(principal, duplicate, kind.split("^")[0].upper(), now)
        issue = Issue(
            "The message could not be processed because of an internal error; nothing from "
            "it was stored. Send it again later.",
            code="207",
        )
        answer = _Answer("AE", [issue], retryable=True)
        with transaction.atomic():
            ack = _file(message, answer, now, detail=f"{type(exc).__name__}: {exc}"[:2000])
    log.info("hl7 %s %s %s %s", transport, kind or "?", control_id or "?", answer.code)
    return message, ack


@dataclass(frozen=True)
class _Key:
    organization_id: int
    facility: str
    control_id: str
    digest: str


class _FiledBefore(Exception):
    pass


_INSERT = """
INSERT INTO integrations_hl7message (
    organization_id, location_id, transport, message_type, control_id, sending_facility, raw,
    raw_sha256, received_at, last_received_at, times_received, outcome, ack, errors, linked,
    retryable
) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 1, %s, %s, %s, %s, %s)
ON CONFLICT (organization_id, sending_facility, control_id, raw_sha256) WHERE NOT retryable
DO NOTHING
RETURNING id
"""


def _file(message: Hl7Message, answer: _Answer, now: datetime, detail: str = "") -> str:
    """Store the message with its answer and return the ACK; `_FiledBefore` when the same
    message is already stored (the caller's transaction is then rolled back)."""
    ack = build_response(message.raw, code=answer.code, issues=answer.issues, sent_at=now)
    message.location = answer.location
    message.outcome = answer.code
    message.ack = ack
    message.errors = [i.as_dict() for i in answer.issues]
    if detail:  # the internal error behind an AE 207, for support (never in the ACK or logs)
        message.errors.append({"internal": detail})
    message.linked = answer.linked
    message.retryable = answer.retryable
    with connection.cursor() as cur:
        cur.execute(
            _INSERT,
            [
                message.organization_id,
                answer.location.pk if answer.location else None,
                message.transport,
                message.message_type,
                message.control_id,
                message.sending_facility,
                message.raw,
                message.raw_sha256,
                now,
                now,
                message.outcome,
                ack,
                json.dumps(message.errors),
                json.dumps(message.linked),
                message.retryable,
            ],
        )
        row = cur.fetchone()
    if row is None:
        raise _FiledBefore
    message.pk = row[0]
    return ack


def _as_answered_to(
    principal: Principal | None,
    stored: tuple[Hl7Message, str],
    message_type: str,
    now: datetime,
) -> tuple[Hl7Message, str]:
    """A stored answer goes only to a sender that may send for the store it was about: to
    anyone else the same message is a store it does not reach (nothing is said about what
    the store's own sender was answered)."""
    message, _ = stored
    if principal is None or (
        message.location_id is not None
        and message.location_id in _sendable_location_ids(principal, message_type)
    ):
        return stored
    issue = Issue(
        f"MSH-4 sending facility {message.sending_facility!r} is not the NCPDP ID or NPI of a "
        "store this connection may send for.",
        "MSH",
        4,
        code="204",
    )
    refused = Hl7Message(
        organization_id=message.organization_id,
        transport=message.transport,
        message_type=message.message_type,
        control_id=message.control_id,
        sending_facility=message.sending_facility,
        outcome="AR",
        retryable=True,
    )
    return refused, build_response(message.raw, code="AR", issues=[issue], sent_at=now)


def hl7_organization_for(*, principal: Principal, text: str) -> Organization | None:
    """Where a message sent over the API is filed: a token's organization; for a person, the
    organization of the store MSH-4 names among those where they may send its type (else
    their home organization, where an unknown store is answered and filed)."""
    if isinstance(principal, TokenPrincipal):
        return principal.token.organization
    facility, _, kind = peek_header(text)
    facility = facility.strip()
    if facility:
        store = (
            Location.objects.filter(Q(ncpdp_id=facility) | Q(npi=facility))
            .filter(pk__in=_sendable_location_ids(principal, kind.split("^")[0].upper()))
            .select_related("organization")
            .order_by("pk")
            .first()
        )
        if store is not None:
            return store.organization
    home = home_organization_id_for_user(principal)
    return Organization.objects.get(pk=home) if home is not None else None


def _stored(key: _Key) -> tuple[Hl7Message, str] | None:
    """The stored answer to the same message, counting the resend."""
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE integrations_hl7message SET times_received = times_received + 1, "
            "last_received_at = %s WHERE organization_id = %s AND sending_facility = %s "
            "AND control_id = %s AND raw_sha256 = %s AND NOT retryable RETURNING id",
            [timezone.now(), key.organization_id, key.facility, key.control_id, key.digest],
        )
        row = cur.fetchone()
    if row is None:
        return None
    stored = Hl7Message.objects.get(pk=row[0])
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
        organization=organization,
        facility=facility,
        principal=principal,
        message_type=parsed.header.message_type,
    )
    if location is None:
        issue = Issue(
            f"MSH-4 sending facility {facility!r} is not the NCPDP ID or NPI of a store "
            "this connection may send for.",
            "MSH",
            4,
            code="204",
        )
        # kept retryable: once the store exists or the sender may reach it, the same message
        # is processed (and a sender that does reach it is never answered this refusal)
        return _Answer("AR", [issue], retryable=True)
    applied = _apply(parsed, location, principal)
    issues = [*parsed.issues, *applied.issues]
    return _Answer(outcome_for(issues), issues, applied.linked, location)


def _apply(parsed: Parsed, location: Location, principal: Principal | None) -> Applied:
    kind = parsed.header.message_type
    if kind == "RDS":
        return apply_rds(parsed, location=location, principal=principal)
    if kind == "VXU":
        return apply_vxu(parsed, location=location)
    return apply_adt(parsed, location=location)
