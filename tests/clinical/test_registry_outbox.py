"""The immunization registry outbox: enqueueing with the dose, sending to a real local HTTP
registry, the registry's answers (accepted, warnings, rejected), retries with backoff, the
pharmacist's resend, and who may resend."""

from __future__ import annotations

import socket
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from claims.models import Patient
from clinical.models import Immunization, RegistryMessage
from clinical.registry_selectors import registry_message_ids_due
from clinical.services import registry as outbox
from clinical.services.immunization_import import immunization_import_path
from clinical.services.registry import (
    MAX_ATTEMPTS,
    registry_message_enqueue,
    registry_message_resend,
    registry_message_send,
    retry_delay,
)
from rxrevops.models import AuditEvent, Job
from tests.clinical.test_immunizations import flu_dose
from tests.factories import PatientFactory
from tests.support.registry import LocalRegistry, local_registry, registry_create

__all__ = ["local_registry"]  # the fixture, used by name below

Status = RegistryMessage.Status


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The message ids whose send task was queued (instead of reaching the broker)."""
    sent: list[int] = []

    class App:
        def send_task(self, name: str, args: list[int], **options: Any) -> None:
            assert name == "clinical.tasks.registry_send"
            sent.extend(args)

    monkeypatch.setattr(outbox, "current_app", App())
    return sent


@pytest.fixture
def iris(chain: SimpleNamespace, local_registry: LocalRegistry) -> Any:
    return registry_create(organization=chain.org, url=local_registry.url)


def message_of(imm: Immunization) -> RegistryMessage:
    return RegistryMessage.objects.get(immunization=imm)


def soon() -> Any:
    return timezone.now() + timedelta(seconds=1)


# --- enqueueing -------------------------------------------------------------------------------


def test_recording_a_dose_queues_one_vxu_for_the_stores_registry_after_commit(
    chain: SimpleNamespace,
    iris: Any,
    queued: list[int],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        imm = flu_dose(chain.pharmacist_b, chain.patient_b)
        assert queued == []  # nothing is sent before the dose is committed

    message = message_of(imm)
    assert queued == [message.pk]
    assert message.status == Status.QUEUED
    assert message.registry == iris
    assert (message.organization_id, message.location_id) == (chain.org.pk, chain.loc_b.pk)
    assert message.attempts == 0
    assert message.next_attempt_at is not None
    segments = {line[:3]: line.split("|") for line in message.er7.split("\r") if line}
    assert segments["MSH"][9] == message.control_id
    assert segments["MSH"][4:6] == ["ICARE", "IDPH"]  # MSH-5/6 from the registry
    assert segments["MSH"][10] == "T"  # MSH-11 processing id: the registry's test system
    assert segments["MSH"][3] == chain.loc_b.ncpdp_id  # no facility id assigned: the NCPDP id
    assert segments["RXA"][15] == "FL2026A"
    assert segments["PID"][3] == f"{chain.patient_b.pms_patient_id}^^^{chain.loc_b.ncpdp_id}^MR"


def test_enqueueing_the_same_dose_twice_does_nothing(
    chain: SimpleNamespace, iris: Any, queued: list[int]
) -> None:
    imm = flu_dose(chain.owner, chain.patient_a)
    first = message_of(imm)

    assert registry_message_enqueue(immunization=imm) is None

    assert RegistryMessage.objects.filter(immunization=imm).count() == 1
    assert message_of(imm).control_id == first.control_id


def test_a_store_in_a_state_without_a_registry_sends_nothing(
    chain: SimpleNamespace, iris: Any, queued: list[int]
) -> None:
    chain.loc_a.state = "WI"
    chain.loc_a.save()
    imm = flu_dose(chain.owner, chain.patient_a)
    assert not RegistryMessage.objects.filter(immunization=imm).exists()
    assert queued == []


def test_a_turned_off_registry_gets_no_message(
    chain: SimpleNamespace, iris: Any, queued: list[int]
) -> None:
    iris.enabled = False
    iris.save()
    imm = flu_dose(chain.owner, chain.patient_a)
    assert not RegistryMessage.objects.filter(immunization=imm).exists()


def test_a_dose_that_cannot_make_a_valid_vxu_is_kept_as_failed_with_the_reason(
    chain: SimpleNamespace, iris: Any, queued: list[int]
) -> None:
    nameless = PatientFactory.create(location=chain.loc_a, first_name="")
    imm = flu_dose(chain.owner, nameless)

    message = message_of(imm)
    assert message.status == Status.FAILED
    assert message.er7 == ""
    assert "PID-5.2 patient first name is missing" in message.last_error
    assert queued == []
    assert registry_message_send(message_id=message.pk, now=soon()) is None


def test_an_imported_file_queues_its_new_doses_and_a_reimport_queues_nothing(
    chain: SimpleNamespace,
    iris: Any,
    queued: list[int],
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    patient: Patient = chain.patient_a
    header = (
        "pharmacy_ncpdp,patient_id,administered_on,cvx,mvx,vaccine,lot,lot_expiration,dose_ml,"
        "site,route,vis_date,pharmacist_npi,funding_eligibility,billed_amount"
    )
    row = (
        f"{chain.loc_a.ncpdp_id},{patient.pms_patient_id},2026-10-02,150,SKB,,IMP1,2027-06-30,"
        "0.5,LD,IM,2023-08-06,1598000011,V01,40.00"
    )
    path = tmp_path / "immunizations.csv"
    path.write_text(f"{header}\n{row}\n")

    with django_capture_on_commit_callbacks(execute=True):
        job = immunization_import_path(organization=chain.org, path=path)
    assert job.status == Job.Status.SUCCEEDED, job.message
    imm = Immunization.objects.get(patient=patient, lot="IMP1")
    message = message_of(imm)
    assert message.status == Status.QUEUED
    assert queued == [message.pk]

    with django_capture_on_commit_callbacks(execute=True):
        again = immunization_import_path(organization=chain.org, path=path)
    assert again.status == Job.Status.SUCCEEDED
    assert RegistryMessage.objects.count() == 1
    assert queued == [message.pk]


# --- sending ----------------------------------------------------------------------------------


def test_an_aa_marks_the_message_accepted(
    chain: SimpleNamespace, iris: Any, local_registry: LocalRegistry, queued: list[int]
) -> None:
    imm = flu_dose(chain.pharmacist_b, chain.patient_b)
    message = message_of(imm)

    sent = registry_message_send(message_id=message.pk)

    assert sent is not None
    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    assert message.attempts == 1
    assert message.last_error == ""
    assert message.next_attempt_at is None
    assert message.acked_at is not None
    assert message.sent_at is not None
    assert "MSA|AA|" + message.control_id in message.ack
    (received,) = local_registry.received
    assert received.control_id == message.control_id
    assert received.lot == "FL2026A"
    assert str(received.message.segment("MSH")[9]) == "VXU^V04^VXU_V04"
    assert received.content_type.startswith("x-application/hl7-v2+er7")
    # answered: a second run (a redelivered task) does nothing
    assert registry_message_send(message_id=message.pk) is None
    assert len(local_registry.received) == 1


def test_a_rejected_lot_keeps_the_message_with_the_registrys_words_and_no_retry(
    chain: SimpleNamespace, iris: Any, local_registry: LocalRegistry, queued: list[int]
) -> None:
    local_registry.plan.rejected_lots = {"FL2026A"}
    message = message_of(flu_dose(chain.owner, chain.patient_a))
    now = soon()

    registry_message_send(message_id=message.pk, now=now)

    message.refresh_from_db()
    assert message.status == Status.REJECTED
    assert message.last_error == (
        "Error: RXA-15 (lot number): Lot number FL2026A is not valid for this vaccine"
    )
    assert message.next_attempt_at is None
    assert "MSA|AE|" in message.ack
    assert registry_message_ids_due(now=now + timedelta(days=1)) == []
    assert registry_message_send(message_id=message.pk, now=now + timedelta(days=1)) is None
    assert len(local_registry.received) == 1


def test_an_ae_with_only_a_warning_is_accepted_with_the_warning_kept(
    chain: SimpleNamespace, iris: Any, local_registry: LocalRegistry, queued: list[int]
) -> None:
    local_registry.plan.warn = True
    message = message_of(flu_dose(chain.owner, chain.patient_a))
    registry_message_send(message_id=message.pk, now=soon())
    message.refresh_from_db()
    assert message.status == Status.ACCEPTED_WITH_WARNINGS
    assert message.last_error == "Warning: PID-11: Patient address is missing"


def test_503_twice_then_aa_is_accepted_on_the_third_attempt_after_backing_off(
    chain: SimpleNamespace, iris: Any, local_registry: LocalRegistry, queued: list[int]
) -> None:
    local_registry.plan.unavailable = 2
    message = message_of(flu_dose(chain.owner, chain.patient_a))
    t0 = soon()

    registry_message_send(message_id=message.pk, now=t0)
    message.refresh_from_db()
    assert message.status == Status.RETRYING
    assert message.attempts == 1
    assert message.next_attempt_at == t0 + timedelta(minutes=1)
    assert "HTTP 503" in message.last_error

    # not due yet: neither the beat nor a stray task sends it
    assert registry_message_ids_due(now=t0 + timedelta(seconds=59)) == []
    assert registry_message_send(message_id=message.pk, now=t0 + timedelta(seconds=59)) is None
    assert local_registry.requests == 1

    t1 = t0 + timedelta(minutes=1)
    assert registry_message_ids_due(now=t1) == [message.pk]
    registry_message_send(message_id=message.pk, now=t1)
    message.refresh_from_db()
    assert message.status == Status.RETRYING
    assert message.attempts == 2
    assert message.next_attempt_at == t1 + timedelta(minutes=2)

    t2 = t1 + timedelta(minutes=2)
    registry_message_send(message_id=message.pk, now=t2)
    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    assert message.attempts == 3
    assert message.last_error == ""
    assert local_registry.requests == 3
    assert [r.control_id for r in local_registry.received] == [message.control_id]


def test_the_beat_task_queues_only_the_messages_that_are_due(
    chain: SimpleNamespace, iris: Any, local_registry: LocalRegistry, queued: list[int]
) -> None:
    local_registry.plan.unavailable = 1
    waiting = message_of(flu_dose(chain.owner, chain.patient_a))
    answered = message_of(flu_dose(chain.owner, chain.patient_b))
    t0 = soon()
    registry_message_send(message_id=waiting.pk, now=t0)  # 503: retry in a minute
    registry_message_send(message_id=answered.pk, now=t0)  # accepted
    queued.clear()

    assert outbox.registry_messages_send_due(now=t0) == []
    assert outbox.registry_messages_send_due(now=t0 + timedelta(minutes=1)) == [waiting.pk]
    assert queued == [waiting.pk]


def test_backoff_doubles_from_a_minute_up_to_an_hour() -> None:
    minutes = [retry_delay(n) / timedelta(minutes=1) for n in range(1, 10)]
    assert minutes == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_a_registry_down_for_good_fails_the_message_after_the_last_attempt(
    chain: SimpleNamespace, iris: Any, local_registry: LocalRegistry, queued: list[int]
) -> None:
    local_registry.plan.unavailable = 1000
    message = message_of(flu_dose(chain.owner, chain.patient_a))
    now = soon()
    for _ in range(MAX_ATTEMPTS):
        registry_message_send(message_id=message.pk, now=now)
        message.refresh_from_db()
        now = message.next_attempt_at or now
    assert message.status == Status.FAILED
    assert message.attempts == MAX_ATTEMPTS
    assert message.next_attempt_at is None
    assert f"Gave up after {MAX_ATTEMPTS} attempts" in message.last_error


def test_a_timeout_is_retried(
    chain: SimpleNamespace, iris: Any, local_registry: LocalRegistry, queued: list[int]
) -> None:
    iris.timeout_seconds = 1
    iris.save()
    local_registry.plan.delay = 2
    message = message_of(flu_dose(chain.owner, chain.patient_a))
    registry_message_send(message_id=message.pk, now=soon())
    message.refresh_from_db()
    assert message.status == Status.RETRYING
    assert "could not be reached" in message.last_error
    assert "timed out" in message.last_error


def test_a_refused_connection_is_retried(
    chain: SimpleNamespace, iris: Any, queued: list[int]
) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    iris.endpoint_url = f"http://127.0.0.1:{port}/vxu"
    iris.save()
    message = message_of(flu_dose(chain.owner, chain.patient_a))
    registry_message_send(message_id=message.pk, now=soon())
    message.refresh_from_db()
    assert message.status == Status.RETRYING
    assert "Illinois I-CARE could not be reached" in message.last_error


def test_an_ack_for_another_message_is_not_taken_as_this_ones(
    chain: SimpleNamespace, iris: Any, local_registry: LocalRegistry, queued: list[int]
) -> None:
    local_registry.plan.ack_control_id = "SOMEONE-ELSE"
    message = message_of(flu_dose(chain.owner, chain.patient_a))
    registry_message_send(message_id=message.pk, now=soon())
    message.refresh_from_db()
    assert message.status == Status.RETRYING
    assert "'SOMEONE-ELSE', not this one" in message.last_error


def test_a_send_whose_worker_died_is_taken_over_once_its_lease_runs_out(
    chain: SimpleNamespace, iris: Any, local_registry: LocalRegistry, queued: list[int]
) -> None:
    message = message_of(flu_dose(chain.owner, chain.patient_a))
    t0 = soon()
    lease_end = t0 + timedelta(seconds=iris.timeout_seconds) + outbox.LEASE_GRACE
    # the worker claimed it and died before recording the answer
    assert outbox._claim(message.pk, t0) is not None
    message.refresh_from_db()
    assert (message.status, message.next_attempt_at) == (Status.SENDING, lease_end)

    assert registry_message_send(message_id=message.pk, now=t0 + timedelta(seconds=1)) is None
    assert registry_message_ids_due(now=lease_end) == [message.pk]
    registry_message_send(message_id=message.pk, now=lease_end)

    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    assert message.attempts == 2


def test_a_message_whose_registry_was_turned_off_fails_instead_of_sending(
    chain: SimpleNamespace, iris: Any, local_registry: LocalRegistry, queued: list[int]
) -> None:
    message = message_of(flu_dose(chain.owner, chain.patient_a))
    iris.enabled = False
    iris.save()
    assert registry_message_send(message_id=message.pk, now=soon()) is None
    message.refresh_from_db()
    assert message.status == Status.FAILED
    assert "turned off" in message.last_error
    assert local_registry.requests == 0


# --- resending --------------------------------------------------------------------------------


def test_a_pharmacist_resends_a_corrected_dose_after_a_rejection(
    chain: SimpleNamespace, iris: Any, local_registry: LocalRegistry, queued: list[int]
) -> None:
    local_registry.plan.rejected_lots = {"FL2026A"}
    imm = flu_dose(chain.pharmacist_b, chain.patient_b)
    message = message_of(imm)
    registry_message_send(message_id=message.pk, now=soon())
    message.refresh_from_db()
    assert message.status == Status.REJECTED
    rejected_id = message.control_id
    queued.clear()

    Immunization.objects.filter(pk=imm.pk).update(lot="FL2026B")  # the lot was mistyped
    resent = registry_message_resend(user=chain.pharmacist_b, message=message)

    assert resent.status == Status.QUEUED
    assert resent.control_id != rejected_id
    assert "|FL2026B|" in resent.er7
    assert (resent.attempts, resent.last_error, resent.ack) == (0, "", "")
    event = AuditEvent.objects.get(
        object_type="clinical.RegistryMessage", object_id=str(message.pk)
    )
    assert event.actor_user == chain.pharmacist_b
    assert rejected_id in event.summary
    assert resent.control_id in event.summary

    registry_message_send(message_id=message.pk, now=soon())
    message.refresh_from_db()
    assert message.status == Status.ACCEPTED
    assert [(r.control_id, r.lot) for r in local_registry.received] == [
        (rejected_id, "FL2026A"),
        (resent.control_id, "FL2026B"),
    ]


def test_a_technician_may_not_resend(chain: SimpleNamespace, iris: Any, queued: list[int]) -> None:
    message = message_of(flu_dose(chain.owner, chain.patient_a))
    with pytest.raises(PermissionDenied):
        registry_message_resend(user=chain.technician_a, message=message)
    assert message_of(message.immunization).control_id == message.control_id


def test_a_pharmacist_of_another_store_may_not_resend(
    chain: SimpleNamespace, iris: Any, queued: list[int]
) -> None:
    message = message_of(flu_dose(chain.owner, chain.patient_a))
    with pytest.raises(PermissionDenied):
        registry_message_resend(user=chain.pharmacist_b, message=message)


def test_a_message_being_sent_cannot_be_resent(
    chain: SimpleNamespace, iris: Any, queued: list[int]
) -> None:
    message = message_of(flu_dose(chain.owner, chain.patient_a))
    outbox._claim(message.pk, timezone.now() + timedelta(seconds=1))
    with pytest.raises(ValidationError, match="being sent right now"):
        registry_message_resend(user=chain.owner, message=message)


def test_the_dose_date_is_what_the_registry_receives(
    chain: SimpleNamespace, iris: Any, local_registry: LocalRegistry, queued: list[int]
) -> None:
    day = date(2026, 9, 30)
    message = message_of(
        flu_dose(chain.owner, chain.patient_a, administered_on=day, vis_given_on=day)
    )
    registry_message_send(message_id=message.pk, now=soon())
    (received,) = local_registry.received
    assert received.field("RXA", 3) == "20260930"


def test_an_accepted_dose_is_not_sent_again_as_a_new_record(
    chain: SimpleNamespace, iris: Any, queued: list[int]
) -> None:
    message = message_of(flu_dose(chain.pharmacist_b, chain.patient_b))
    RegistryMessage.objects.filter(pk=message.pk).update(status=Status.ACCEPTED)
    message.refresh_from_db()
    with pytest.raises(ValidationError, match="already accepted"):
        registry_message_resend(user=chain.pharmacist_b, message=message)
