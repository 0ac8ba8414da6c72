"""The immunization registry outbox: each recorded dose is sent to its state registry (IIS)
as an HL7 VXU^V04 and the registry's ACK is kept with it.

- `registry_messages_enqueue` runs in the transaction that records the dose (a form, the API
  or a file import): it builds the VXU for the registry serving the dose's store and queues
  the send once the dose is committed. No registry for the store's state: no message (the
  outbox page lists such stores). One message per dose per registry, so a second enqueue
  does nothing.
- `registry_message_send` claims one due message, POSTs the VXU over HTTP and records the
  answer. AA: accepted; AE with only warnings: accepted with warnings; AR, or AE with
  errors: rejected, kept with the registry's words and never retried by itself. A timeout,
  a connection error, HTTP 5xx/408/429 or an unreadable answer: retried with exponential
  backoff (1, 2, 4 ... minutes, at most an hour apart), failed after `MAX_ATTEMPTS`.
- `registry_message_resend` is the pharmacist's button: it rebuilds the VXU from the dose
  as it is now (so a corrected lot goes out) under a new control id.

The claim is a row lock (`skip_locked`) that moves the message to `sending` with a lease
(`next_attempt_at` = now + timeout + grace): a send whose worker died is taken over by the
beat task once the lease runs out, and a duplicate task finds nothing to claim.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from celery import current_app
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clinical.hl7.ack import AckError, Outcome, parse_ack
from clinical.hl7.vxu import DoseInfo, PatientInfo, Provider, Sender, VxuError, build_vxu
from clinical.models import Immunization, ImmunizationRegistry, RegistryMessage
from clinical.registry_selectors import registry_message_ids_due, registry_serving
from rxrevops.access import Principal, location_ids_for_user, require_role_or_scope
from rxrevops.models import AuditEvent, Role, Scope
from rxrevops.services.audit import audit_record

logger = logging.getLogger(__name__)

Status = RegistryMessage.Status
SEND_TASK = "clinical.tasks.registry_send"
RESEND_ROLES = (Role.OWNER, Role.PHARMACIST)
MAX_ATTEMPTS = 10
RETRY_FIRST = timedelta(minutes=1)
RETRY_LONGEST = timedelta(hours=1)
# a send is given the registry's timeout plus this before another worker may take it over
LEASE_GRACE = timedelta(seconds=60)
SENDABLE = (Status.QUEUED, Status.RETRYING, Status.SENDING)
ACK_KEPT_CHARS = 20_000  # a registry answering with a whole HTML page is kept in part
CONTENT_TYPE = "x-application/hl7-v2+er7; charset=utf-8"  # HL7 over HTTP


def retry_delay(attempts: int) -> timedelta:
    """How long after failed attempt number `attempts` (1-based) the next one is due."""
    return min(RETRY_FIRST * 2 ** max(attempts - 1, 0), RETRY_LONGEST)


def _control_id() -> str:
    # MSH-10: unique per message sent; 20 characters, within every registry's length limit
    return "RXR" + uuid.uuid4().hex[:17].upper()


# --- building ----------------------------------------------------------------------------


def _vxu_inputs(
    imm: Immunization, registry: ImmunizationRegistry
) -> tuple[Sender, PatientInfo, DoseInfo]:
    location, patient = imm.location, imm.patient
    sender = Sender(
        facility_id=registry.sending_facility_id or location.ncpdp_id,
        facility_name=location.name,
        receiving_application=registry.receiving_application,
        receiving_facility=registry.receiving_facility,
        processing_id=registry.processing_id,
    )
    sex = (patient.sex or "U").upper()
    patient_info = PatientInfo(
        id=patient.pms_patient_id,
        # each store's PMS numbers its own patients: the store (its NCPDP id) assigns the id
        assigning_authority=location.ncpdp_id,
        last_name=patient.last_name,
        first_name=patient.first_name,
        birth_date=patient.date_of_birth,
        sex=sex if sex in ("F", "M", "U") else "U",
    )
    provider = None
    if imm.administering_npi:
        who = imm.administered_by
        provider = Provider(
            imm.administering_npi,
            who.last_name if who else "",
            who.first_name if who else "",
        )
    dose = DoseInfo(
        record_id=str(imm.pk),
        administered_on=imm.administered_on,
        cvx=imm.cvx,
        vaccine=imm.vaccine,
        mvx=imm.mvx,
        dose_ml=imm.dose_ml,
        lot=imm.lot,
        expiration=imm.expiration,
        route=imm.route,
        site=imm.site,
        funding_eligibility=imm.funding_eligibility,
        vis_edition_date=imm.vis_edition_date,
        vis_given_on=imm.vis_given_on,
        administering=provider,
    )
    return sender, patient_info, dose


def _build_into(message: RegistryMessage, imm: Immunization, now: datetime) -> None:
    """Put a freshly built VXU (new control id) on the message, queued to send now; when the
    dose cannot make a valid VXU, the message fails with every problem listed instead."""
    message.control_id = _control_id()
    message.attempts = 0
    message.ack = ""
    message.sent_at = message.acked_at = None
    sender, patient, dose = _vxu_inputs(imm, message.registry)
    try:
        message.er7 = build_vxu(
            sender=sender, patient=patient, dose=dose, control_id=message.control_id, sent_at=now
        )
    except VxuError as exc:
        message.er7 = ""
        message.status = Status.FAILED
        message.next_attempt_at = None
        message.last_error = (
            "Not sent: a VXU could not be built from this dose. Correct the dose, then "
            "resend.\n" + "\n".join(exc.problems)
        )
        return
    message.status = Status.QUEUED
    message.next_attempt_at = now
    message.last_error = ""


def registry_message_queue(*, message_id: int) -> bool:
    """Send the message's task. If the broker is down the row stays due and the
    `registry_send_due` beat task sends it later."""
    try:
        current_app.send_task(
            SEND_TASK,
            args=[message_id],
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5},
        )
    except Exception:  # broker unreachable: the outbox row is the source of truth
        logger.warning("registry message %s: broker unavailable, left due", message_id)
        return False
    return True


def registry_messages_enqueue(
    *, immunizations: Iterable[Immunization], now: datetime | None = None
) -> list[RegistryMessage]:
    """Create the outbox message of each dose for the registry serving its store and queue
    its send after the surrounding transaction commits. Returns the messages created: a
    dose whose store has no registry, or that already has its message, gets none."""
    now = now or timezone.now()
    doses = Immunization.objects.filter(pk__in=[imm.pk for imm in immunizations])
    registries: dict[int, ImmunizationRegistry | None] = {}
    created = []
    for imm in doses.select_related("patient", "location", "administered_by").order_by("pk"):
        if imm.location_id not in registries:
            registries[imm.location_id] = registry_serving(imm.location)
        registry = registries[imm.location_id]
        if registry is None:
            logger.info("immunization %s: no registry serves store %s", imm.pk, imm.location_id)
            continue
        message = RegistryMessage(
            organization_id=imm.organization_id,
            location_id=imm.location_id,
            immunization=imm,
            registry=registry,
        )
        _build_into(message, imm, now)
        try:
            with transaction.atomic():  # a savepoint: a concurrent enqueue won the race
                message.save()
        except IntegrityError:
            continue
        created.append(message)
        if message.status == Status.QUEUED:
            transaction.on_commit(partial(registry_message_queue, message_id=message.pk))
    return created


def registry_message_enqueue(
    *, immunization: Immunization, now: datetime | None = None
) -> RegistryMessage | None:
    """`registry_messages_enqueue` for one dose: its new message, or None."""
    created = registry_messages_enqueue(immunizations=[immunization], now=now)
    return created[0] if created else None


# --- sending -----------------------------------------------------------------------------


class TransportError(Exception):
    pass


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # following a redirect would turn the POST into a GET without the message
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def registry_post(*, url: str, body: str, timeout: float) -> tuple[int, str]:
    """POST `body` to `url`; (HTTP status, response text). Raises `TransportError` when no
    answer came (connection refused, DNS, TLS, timeout)."""
    if not url.lower().startswith(("http://", "https://")):
        raise TransportError(f"the endpoint {url!r} is not an http(s) address")
    # S310: only http(s) reaches here (checked above), never file: or a custom scheme
    request = urllib.request.Request(  # noqa: S310
        url,
        data=body.encode("utf-8"),
        method="POST",
        headers={"Content-Type": CONTENT_TYPE, "Accept": "x-application/hl7-v2+er7, */*"},
    )
    try:
        with _opener.open(request, timeout=timeout) as response:
            return int(response.status), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        text = exc.read().decode("utf-8", "replace") if exc.fp is not None else ""
        return int(exc.code), text
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TransportError(str(reason) or type(reason).__name__) from exc


@dataclass(frozen=True)
class Delivery:
    """What one attempt came to: a final status, or `retry` with the reason."""

    status: str  # a RegistryMessage.Status; RETRYING is turned into FAILED past the limit
    error: str = ""
    ack: str = ""
    acked: bool = False


def _deliver(message: RegistryMessage, registry: ImmunizationRegistry) -> Delivery:
    name = registry.name
    try:
        code, body = registry_post(
            url=registry.endpoint_url, body=message.er7, timeout=registry.timeout_seconds
        )
    except TransportError as exc:
        return Delivery(Status.RETRYING, f"{name} could not be reached: {exc}.")
    kept = body[:ACK_KEPT_CHARS]
    if code >= 500 or code in (408, 429):
        return Delivery(
            Status.RETRYING, f"{name} is not taking messages right now (HTTP {code}).", kept
        )
    if not 200 <= code < 300:
        # a refusal of the connection itself (address, credentials): retrying will not help
        return Delivery(
            Status.FAILED,
            f"{name} refused the connection (HTTP {code}): check the registry's endpoint "
            "and facility id, then resend.",
            kept,
        )
    try:
        ack = parse_ack(body)
    except AckError as exc:
        return Delivery(Status.RETRYING, f"The answer from {name} could not be read: {exc}", kept)
    if ack.control_id != message.control_id:
        return Delivery(
            Status.RETRYING,
            f"{name} acknowledged message {ack.control_id!r}, not this one ({message.control_id}).",
            kept,
        )
    status = {
        Outcome.ACCEPTED: Status.ACCEPTED,
        Outcome.ACCEPTED_WITH_WARNINGS: Status.ACCEPTED_WITH_WARNINGS,
        Outcome.REJECTED: Status.REJECTED,
    }[ack.outcome]
    error = ack.describe()
    if status == Status.REJECTED and not error:
        error = f"{name} rejected the message ({ack.code}) without saying why."
    return Delivery(status, error, kept, acked=True)


def _claim(message_id: int, now: datetime) -> RegistryMessage | None:
    with transaction.atomic():
        message = (
            RegistryMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("registry")
            .filter(pk=message_id, status__in=SENDABLE, next_attempt_at__lte=now)
            .first()
        )
        if message is None:
            return None  # not due, already answered, or being sent by another worker
        registry = message.registry
        if not registry.enabled:
            message.status = Status.FAILED
            message.next_attempt_at = None
            message.last_error = f"Not sent: {registry.name} is turned off."
            message.save(update_fields=["status", "next_attempt_at", "last_error", "updated_at"])
            return None
        message.status = Status.SENDING
        message.attempts += 1
        message.sent_at = now
        message.next_attempt_at = now + timedelta(seconds=registry.timeout_seconds) + LEASE_GRACE
        message.save(
            update_fields=["status", "attempts", "sent_at", "next_attempt_at", "updated_at"]
        )
        return message


def registry_message_send(
    *, message_id: int, now: datetime | None = None
) -> RegistryMessage | None:
    """Send one message if it is due and nobody else is sending it; record the outcome.
    Returns the message as recorded, or None when there was nothing to do (safe to call
    twice)."""
    now = now or timezone.now()
    message = _claim(message_id, now)
    if message is None:
        return None
    result = _deliver(message, message.registry)
    status, error, next_at = result.status, result.error, None
    if status == Status.RETRYING:
        if message.attempts >= MAX_ATTEMPTS:
            status = Status.FAILED
            error += f" Gave up after {message.attempts} attempts; press Resend to try again."
        else:
            next_at = now + retry_delay(message.attempts)
    fields: dict[str, Any] = {
        "status": status,
        "last_error": error,
        "ack": result.ack,
        "next_attempt_at": next_at,
        "acked_at": now if result.acked else None,
        "updated_at": timezone.now(),
    }
    # only the claim that is still current records (a stalled send taken over does not)
    written = RegistryMessage.objects.filter(
        pk=message.pk, status=Status.SENDING, attempts=message.attempts
    ).update(**fields)
    if not written:
        return None
    for name, value in fields.items():
        setattr(message, name, value)
    logger.info("registry message %s: %s after attempt %s", message.pk, status, message.attempts)
    return message


def registry_messages_send_due(*, now: datetime | None = None) -> list[int]:
    """Queue a send for every message that is due (for the beat task); returns their ids."""
    ids = registry_message_ids_due(now=now or timezone.now())
    for message_id in ids:
        registry_message_queue(message_id=message_id)
    return ids


# --- the pharmacist's resend -------------------------------------------------------------


def registry_message_resend(
    *,
    user: Principal,
    message: RegistryMessage,
    request: Any = None,
    now: datetime | None = None,
) -> RegistryMessage:
    """Rebuild the message's VXU from the dose as it is now, under a new control id, and
    queue it. Owners and pharmacists of the message's store only; a message being sent right
    now, or whose registry is turned off, is refused with a `ValidationError`."""
    require_role_or_scope(
        user,
        roles=RESEND_ROLES,
        scope=Scope.CLINICAL_WRITE,
        refusal="Only pharmacists and owners resend immunization registry messages.",
    )
    if message.location_id not in location_ids_for_user(user, roles=RESEND_ROLES):
        raise PermissionDenied("This message is not from one of your stores.")
    now = now or timezone.now()
    with transaction.atomic():
        locked = (
            RegistryMessage.objects.select_for_update(of=("self",))
            .select_related("registry")
            .get(pk=message.pk)
        )
        if locked.status == Status.SENDING and (
            locked.next_attempt_at is None or locked.next_attempt_at > now
        ):
            raise ValidationError("This message is being sent right now: wait for the answer.")
        if locked.status in (Status.ACCEPTED, Status.ACCEPTED_WITH_WARNINGS):
            # sent again as a new record (RXA-21 A), an accepted dose would be a duplicate in
            # the registry; corrections (RXA-21 U) are not built yet
            raise ValidationError(
                "The registry already accepted this dose: sending it again would record it "
                "twice. Correct it in the registry's own portal."
            )
        if not locked.registry.enabled:
            raise ValidationError(f"{locked.registry.name} is turned off: nothing can be sent.")
        imm = Immunization.objects.select_related("patient", "location", "administered_by").get(
            pk=locked.immunization_id
        )
        previous = locked.control_id
        _build_into(locked, imm, now)
        locked.save()
        audit_record(
            actor=user,
            action=AuditEvent.Action.UPDATE,
            obj=locked,
            request=request,
            summary=(
                f"Immunization {imm.pk} resent to {locked.registry.name} as {locked.control_id} "
                f"(was {previous})"
            ),
        )
        if locked.status == Status.QUEUED:
            transaction.on_commit(partial(registry_message_queue, message_id=locked.pk))
    return locked
