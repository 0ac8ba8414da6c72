"""The registry outbox pages: the status list, a message with the registry's words, the
Resend button, store isolation and roles; and the demo sandbox registry."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from clinical.hl7.ack import parse_ack
from clinical.models import Immunization, RegistryMessage
from clinical.services import registry as outbox
from clinical.services.registry import registry_message_send
from tests.clinical.test_immunizations import flu_dose
from tests.clinical.test_vxu import er7
from tests.support.registry import LocalRegistry, local_registry, registry_create

__all__ = ["local_registry"]  # the fixture, used by name below

Status = RegistryMessage.Status


@pytest.fixture(autouse=True)
def no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "registry_message_queue", lambda *, message_id: True)


@pytest.fixture
def iris(chain: SimpleNamespace, local_registry: LocalRegistry) -> Any:
    return registry_create(organization=chain.org, url=local_registry.url)


def sent(imm: Immunization) -> RegistryMessage:
    message = RegistryMessage.objects.get(immunization=imm)
    registry_message_send(message_id=message.pk, now=timezone.now() + timedelta(seconds=1))
    message.refresh_from_db()
    return message


def test_the_outbox_lists_messages_with_status_counts_and_filters_by_status(
    chain: SimpleNamespace, iris: Any, local_registry: LocalRegistry, login: Any
) -> None:
    local_registry.plan.rejected_lots = {"BAD1"}
    accepted = sent(flu_dose(chain.owner, chain.patient_a))
    rejected = sent(flu_dose(chain.owner, chain.patient_b, lot="BAD1"))
    assert (accepted.status, rejected.status) == (Status.ACCEPTED, Status.REJECTED)
    client = login(chain.owner)

    page = client.get(reverse("clinical:outbox"))

    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('data-testid="outbox-row"') == 2
    counts = {c.status: c.count for c in page.context["counts"]}
    assert (counts["accepted"], counts["rejected"], counts["queued"]) == (1, 1, 0)
    assert "Lot number BAD1 is not valid for this vaccine" in html
    assert chain.patient_b.last_name in html
    assert "Maple B" in html

    only = client.get(reverse("clinical:outbox"), {"status": "rejected"})
    assert [m.pk for m in only.context["page"].object_list] == [rejected.pk]


def test_a_rejected_message_shows_the_registrys_error_in_plain_words(
    chain: SimpleNamespace, iris: Any, local_registry: LocalRegistry, login: Any
) -> None:
    local_registry.plan.rejected_lots = {"FL2026A"}
    message = sent(flu_dose(chain.pharmacist_b, chain.patient_b))
    client = login(chain.pharmacist_b)

    page = client.get(reverse("clinical:outbox_message", args=[message.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert "Illinois I-CARE did not take this dose. It said: Error: RXA-15 (lot number): " in html
    assert "Lot number FL2026A is not valid for this vaccine" in html
    assert "press Resend" in html
    assert 'class="flagged">RXA|' in html  # the segment the registry named
    assert "MSA|AE|" + message.control_id in html
    assert f"MSH|^~\\&amp;|RxRevOps|{chain.loc_b.ncpdp_id}" in html


def test_a_message_waiting_to_retry_says_when(
    chain: SimpleNamespace, iris: Any, local_registry: LocalRegistry, login: Any
) -> None:
    local_registry.plan.unavailable = 1
    message = sent(flu_dose(chain.owner, chain.patient_a))
    assert message.status == Status.RETRYING
    page = login(chain.owner).get(reverse("clinical:outbox_message", args=[message.pk]))
    explanation = page.context["detail"].explanation
    assert explanation.startswith("Not delivered yet: Illinois I-CARE is not taking messages")
    assert "tries again by itself at" in explanation
    assert "(attempt 2)" in explanation


def test_the_resend_button_queues_the_message_again(
    chain: SimpleNamespace, iris: Any, local_registry: LocalRegistry, login: Any
) -> None:
    local_registry.plan.rejected_lots = {"FL2026A"}
    message = sent(flu_dose(chain.pharmacist_b, chain.patient_b))
    client = login(chain.pharmacist_b)

    response = client.post(reverse("clinical:outbox_resend", args=[message.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("clinical:outbox_message", args=[message.pk])
    after = RegistryMessage.objects.get(pk=message.pk)
    assert after.status == Status.QUEUED
    assert after.control_id != message.control_id
    page = client.get(response["Location"])
    assert "Queued again for Illinois I-CARE." in page.content.decode()


def test_another_stores_message_is_a_404_for_the_page_and_the_resend(
    chain: SimpleNamespace, iris: Any, login: Any
) -> None:
    at_a = RegistryMessage.objects.get(immunization=flu_dose(chain.owner, chain.patient_a))
    client = login(chain.pharmacist_b)

    assert client.get(reverse("clinical:outbox_message", args=[at_a.pk])).status_code == 404
    assert client.post(reverse("clinical:outbox_resend", args=[at_a.pk])).status_code == 404
    listing = client.get(reverse("clinical:outbox"))
    assert list(listing.context["page"].object_list) == []
    assert RegistryMessage.objects.get(pk=at_a.pk).control_id == at_a.control_id


def test_another_organizations_owner_gets_404(
    chain: SimpleNamespace, other_chain: SimpleNamespace, iris: Any, login: Any
) -> None:
    message = RegistryMessage.objects.get(immunization=flu_dose(chain.owner, chain.patient_a))
    client = login(other_chain.owner)
    assert client.get(reverse("clinical:outbox_message", args=[message.pk])).status_code == 404


def test_a_technician_cannot_open_the_outbox_or_resend(
    chain: SimpleNamespace, iris: Any, login: Any
) -> None:
    message = RegistryMessage.objects.get(immunization=flu_dose(chain.owner, chain.patient_a))
    client = login(chain.technician_a)
    assert client.get(reverse("clinical:outbox")).status_code == 403
    assert client.get(reverse("clinical:outbox_message", args=[message.pk])).status_code == 403
    assert client.post(reverse("clinical:outbox_resend", args=[message.pk])).status_code == 403
    assert RegistryMessage.objects.get(pk=message.pk).control_id == message.control_id


def test_resend_is_post_only(chain: SimpleNamespace, iris: Any, login: Any) -> None:
    message = RegistryMessage.objects.get(immunization=flu_dose(chain.owner, chain.patient_a))
    response = login(chain.owner).get(reverse("clinical:outbox_resend", args=[message.pk]))
    assert response.status_code == 405


def test_stores_without_a_registry_are_named_on_the_outbox(
    chain: SimpleNamespace, iris: Any, login: Any
) -> None:
    chain.loc_a.state = "WI"
    chain.loc_a.save()
    html = login(chain.owner).get(reverse("clinical:outbox")).content.decode()
    assert 'data-testid="unserved"' in html
    assert "Maple A (WI)" in html
    assert "Maple B" not in html.split('data-testid="unserved"')[1].split("</section>")[0]


# --- the demo sandbox -------------------------------------------------------------------------


def test_the_sandbox_registry_is_off_by_default(client: Any) -> None:
    response = client.post(reverse("clinical:registry_sandbox"), er7(), content_type="text/plain")
    assert response.status_code == 404


@override_settings(IMMUNIZATION_REGISTRY_SANDBOX=True)
def test_the_sandbox_registry_answers_a_vxu_with_an_ack(client: Any) -> None:
    url = reverse("clinical:registry_sandbox")
    response = client.post(url, er7(), content_type="x-application/hl7-v2+er7")
    assert response.status_code == 200
    assert parse_ack(response.content.decode()).code == "AA"
    rejected = client.post(url, er7().replace("|L123|", "|REJECT1|"), content_type="text/plain")
    assert parse_ack(rejected.content.decode()).code == "AE"
    assert client.post(url, "hello", content_type="text/plain").status_code == 400


@override_settings(IMMUNIZATION_REGISTRY_SANDBOX=True)
def test_the_outbox_can_send_to_the_sandbox_through_a_live_server(
    chain: SimpleNamespace, live_server: Any, transactional_db: Any
) -> None:
    registry_create(
        organization=chain.org, url=live_server.url + reverse("clinical:registry_sandbox")
    )
    message = sent(flu_dose(chain.owner, chain.patient_a))
    assert message.status == Status.ACCEPTED
