"""Who may send for which store over HTTP: a person only where they hold a role that writes
what the message writes; a resent message's stored answer only to a sender of that store."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from claims.models import Patient
from integrations.models import Hl7Message
from rxrevops.models import Location, Membership, Role
from rxrevops.services.tokens import api_token_create
from tests.factories import member
from tests.integrations.samples import adt, field
from tests.integrations.test_hl7_http import post

pytestmark = pytest.mark.django_db


def _join(user: User, other: SimpleNamespace, role: str) -> None:
    membership = Membership.objects.create(
        user=user, organization=other.org, role=role, all_locations=False
    )
    membership.locations.set([other.loc])


def _token_client(chain: SimpleNamespace, *locations: Location) -> APIClient:
    issued = api_token_create(
        organization=chain.org, name="PMS", scopes=["claims:write"], locations=locations
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issued.key}")
    return client


def test_a_person_cannot_write_where_they_hold_no_role_that_writes_claims(
    chain: SimpleNamespace, other_chain: SimpleNamespace
) -> None:
    # pharmacist at Maple A, and only a technician at Birch's store
    user = member(organization=chain.org, role=Role.PHARMACIST, locations=[chain.loc_a])
    _join(user, other_chain, Role.TECHNICIAN)
    client = APIClient()
    client.force_login(user)

    answer = post(client, adt(facility=other_chain.loc.ncpdp_id, patient_id="X1"))

    assert field(answer.content.decode(), "MSA", 1) == "AR"
    assert "not the NCPDP ID or NPI of a store" in answer.content.decode()
    assert not Patient.objects.filter(pms_patient_id="X1").exists()
    # filed where the person works, not in the other chain's message log
    assert not Hl7Message.objects.filter(organization=other_chain.org).exists()


def test_a_person_with_roles_in_two_chains_files_under_the_store_s_chain(
    chain: SimpleNamespace, other_chain: SimpleNamespace
) -> None:
    user = member(organization=chain.org, role=Role.PHARMACIST, locations=[chain.loc_a])
    _join(user, other_chain, Role.PHARMACIST)
    client = APIClient()
    client.force_login(user)

    answer = post(client, adt(facility=other_chain.loc.ncpdp_id, patient_id="X2"))

    assert field(answer.content.decode(), "MSA", 1) == "AA"
    assert Patient.objects.get(pms_patient_id="X2").location == other_chain.loc
    assert Hl7Message.objects.get().organization == other_chain.org


def test_a_refusal_for_an_unreachable_store_does_not_stop_the_store_s_own_sender(
    chain: SimpleNamespace,
) -> None:
    message = adt(facility=chain.loc_a.ncpdp_id, patient_id="X3")
    refused = post(_token_client(chain, chain.loc_b), message)
    assert field(refused.content.decode(), "MSA", 1) == "AR"

    accepted = post(_token_client(chain, chain.loc_a), message)

    assert field(accepted.content.decode(), "MSA", 1) == "AA"
    assert Patient.objects.filter(location=chain.loc_a, pms_patient_id="X3").exists()


def test_a_resend_by_a_sender_of_another_store_is_not_told_what_the_store_was_answered(
    chain: SimpleNamespace,
) -> None:
    message = adt(facility=chain.loc_a.ncpdp_id, patient_id="X4")
    assert (
        field(post(_token_client(chain, chain.loc_a), message).content.decode(), "MSA", 1) == "AA"
    )

    again = post(_token_client(chain, chain.loc_b), message).content.decode()

    assert field(again, "MSA", 1) == "AR"
    assert "not the NCPDP ID or NPI of a store" in again
    # the refusal is filed as this sender's own (retryable) message; the store's stays as it was
    outcomes = sorted(Hl7Message.objects.values_list("outcome", "location_id"))
    assert outcomes == [("AA", chain.loc_a.pk), ("AR", None)]
