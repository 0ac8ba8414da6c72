"""The outbox end to end: a dose recorded in this process is sent by the real Celery worker
to the local registry and comes back accepted."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from clinical.models import RegistryMessage
from tests.clinical.test_immunizations import flu_dose
from tests.conftest import WorkerProcess, wait_until
from tests.support.registry import LocalRegistry, local_registry, registry_create

__all__ = ["local_registry"]  # the fixture, used by name below

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

Status = RegistryMessage.Status


def status_of(message_id: int) -> str:
    return str(RegistryMessage.objects.values_list("status", flat=True).get(pk=message_id))


def test_a_recorded_dose_is_sent_by_the_worker_and_accepted(
    chain: SimpleNamespace,
    celery_worker: WorkerProcess,
    local_registry: LocalRegistry,
) -> None:
    # the worker reads settings once per session: the endpoint comes from the database
    registry_create(organization=chain.org, url=local_registry.url)

    imm = flu_dose(chain.pharmacist_b, chain.patient_b)

    message = RegistryMessage.objects.get(immunization=imm)
    wait_until(lambda: status_of(message.pk) == Status.ACCEPTED, timeout=60)
    message.refresh_from_db()
    assert message.attempts == 1
    assert [r.control_id for r in local_registry.received] == [message.control_id]
    assert local_registry.received[0].lot == "FL2026A"
    assert "registry_send" in celery_worker.logs()


def test_a_rejected_dose_stays_in_the_outbox_with_the_registrys_words(
    chain: SimpleNamespace,
    celery_worker: WorkerProcess,
    local_registry: LocalRegistry,
) -> None:
    registry_create(organization=chain.org, url=local_registry.url)
    local_registry.plan.rejected_lots = {"FL2026A"}

    message = RegistryMessage.objects.get(immunization=flu_dose(chain.owner, chain.patient_a))

    wait_until(lambda: status_of(message.pk) == Status.REJECTED, timeout=60)
    message.refresh_from_db()
    assert "Lot number FL2026A is not valid for this vaccine" in message.last_error
    assert len(local_registry.received) == 1
