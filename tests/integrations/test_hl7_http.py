"""HL7 v2 over HTTP: POST /api/v1/hl7/ answers each message with its ACK."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from rest_framework.test import APIClient

from claims.models import Fill, Patient
from clinical.models import Immunization
from integrations.models import Hl7Message
from rxrevops.services.tokens import api_token_create
from tests.integrations.samples import adt, field, fields, rds, vxu

URL = "/api/v1/hl7/"
HL7 = "x-application/hl7-v2+er7"
ALL_SCOPES = ["claims:write", "clinical:write"]


def client_for(chain: SimpleNamespace, scopes: list[str] = ALL_SCOPES) -> APIClient:
    issued = api_token_create(organization=chain.org, name="PMS interface", scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issued.key}")
    return client


def post(client: APIClient, text: str | bytes, content_type: str = HL7) -> Any:
    body = text.encode() if isinstance(text, str) else text
    return client.generic("POST", URL, body, content_type=content_type)  # type: ignore[arg-type]


def test_an_adt_a08_updates_the_patient_and_answers_aa(chain: SimpleNamespace) -> None:
    patient = chain.patient_a
    message = adt(
        facility=chain.loc_a.ncpdp_id,
        patient_id=patient.pms_patient_id,
        last="Renamed",
        phone="2175550199",
    )
    response = post(client_for(chain), message)
    assert response.status_code == 200
    assert response["Content-Type"].startswith(HL7)
    ack = response.content.decode()
    assert field(ack, "MSH", 9) == "ACK^A08^ACK"
    assert field(ack, "MSH", 5) == "TestPMS"
    assert field(ack, "MSH", 6) == chain.loc_a.ncpdp_id
    assert field(ack, "MSA", 1) == "AA"
    assert field(ack, "MSA", 2) == "ADT-1"
    patient.refresh_from_db()
    assert patient.last_name == "Renamed"
    assert patient.phone == "2175550199"
    stored = Hl7Message.objects.get()
    assert stored.outcome == "AA"
    assert stored.location == chain.loc_a
    assert stored.transport == "http"
    assert stored.message_type == "ADT^A08"
    assert stored.control_id == "ADT-1"
    assert stored.raw == message
    assert stored.ack == ack
    assert stored.linked["patients"] == [patient.pk]


def test_an_adt_for_a_patient_the_store_does_not_know_creates_them(
    chain: SimpleNamespace,
) -> None:
    response = post(client_for(chain), adt(facility=chain.loc_b.npi, patient_id="NEW1"))
    assert field(response.content.decode(), "MSA", 1) == "AA"
    created = Patient.objects.get(location=chain.loc_b, pms_patient_id="NEW1")
    assert created.date_of_birth == date(1960, 2, 1)


def test_a_vxu_records_the_dose(chain: SimpleNamespace) -> None:
    message = vxu(facility=chain.loc_a.ncpdp_id, patient_id=chain.patient_a.pms_patient_id)
    response = post(client_for(chain), message)
    ack = response.content.decode()
    assert response.status_code == 200
    assert field(ack, "MSH", 9) == "ACK^V04^ACK"
    assert field(ack, "MSH", 21) == "Z23^CDCPHINVS"
    assert field(ack, "MSA", 1) == "AA", ack
    assert field(ack, "MSA", 2) == "VXU-1"
    imm = Immunization.objects.get()
    assert imm.patient == chain.patient_a
    assert imm.location == chain.loc_a
    assert (imm.cvx, imm.mvx, imm.lot) == ("150", "SKB", "L123")
    assert imm.administered_on == date(2026, 10, 1)
    assert imm.expiration == date(2027, 6, 1)
    assert imm.route == "C28161"
    assert imm.vis_given_on == date(2026, 10, 1)
    assert Hl7Message.objects.get().linked["immunizations"] == [imm.pk]


def test_a_vxu_for_a_new_patient_creates_them_and_leaves_a_known_one_as_stored(
    chain: SimpleNamespace,
) -> None:
    client = client_for(chain)
    ack = post(client, vxu(facility=chain.loc_a.ncpdp_id, patient_id="NEW-VXU")).content.decode()
    assert field(ack, "MSA", 1) == "AA", ack
    created = Patient.objects.get(location=chain.loc_a, pms_patient_id="NEW-VXU")
    assert (created.last_name, created.date_of_birth) == ("Testperson", date(1960, 2, 1))
    stored = Hl7Message.objects.get()
    assert stored.linked["patients_created"] == [created.pk]
    assert Immunization.objects.get().patient == created
    # a known patient: the PID's other name, birth date and phone change nothing (ADT does)
    known = chain.patient_a
    before = (known.last_name, known.first_name, known.date_of_birth, known.phone)
    message = vxu(
        facility=chain.loc_a.ncpdp_id,
        patient_id=known.pms_patient_id,
        control_id="VXU-KNOWN",
        lot="L999",
    )
    assert (known.last_name, known.date_of_birth) != ("Testperson", date(1960, 2, 1))
    ack = post(client, message).content.decode()
    assert field(ack, "MSA", 1) == "AA", ack
    known.refresh_from_db()
    assert (known.last_name, known.first_name, known.date_of_birth, known.phone) == before
    assert Immunization.objects.get(lot="L999").patient == known
    filed = Hl7Message.objects.get(control_id="VXU-KNOWN")
    assert "patients_created" not in filed.linked
    assert filed.linked["patients"] == [known.pk]


def test_an_expired_lot_is_answered_ae_with_the_err_fields(chain: SimpleNamespace) -> None:
    message = vxu(
        facility=chain.loc_a.ncpdp_id,
        patient_id=chain.patient_a.pms_patient_id,
        expiration="20260901",
    )
    ack = post(client_for(chain), message).content.decode()
    assert field(ack, "MSA", 1) == "AE"
    assert field(ack, "MSA", 2) == "VXU-1"
    assert "expired" in field(ack, "MSA", 3)
    err = fields(ack, "ERR")
    assert err[2] == "RXA^1^16"
    assert err[3] == "102^Data type error^HL70357"
    assert err[4] == "E"
    assert "expired on 2026-09-01" in err[8]
    assert not Immunization.objects.exists()
    assert Hl7Message.objects.get().errors[0]["location"] == "RXA-16"


def test_an_rds_pushes_a_fill(chain: SimpleNamespace) -> None:
    message = rds(facility=chain.loc_a.ncpdp_id, patient_id=chain.patient_a.pms_patient_id)
    response = post(client_for(chain), message, content_type="text/plain")
    ack = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert field(ack, "MSH", 9) == "ACK^O13^ACK"
    assert field(ack, "MSA", 1) == "AA", ack
    fill = Fill.objects.get()
    assert (fill.location_id, fill.rx_number, fill.fill_number) == (chain.loc_a.pk, 1000123, 0)
    assert fill.date_of_service == date(2026, 10, 1)
    assert fill.days_supply == 30
    assert fill.total_paid_cents == 800
    assert fill.ingredient_cost_paid_cents == 1000
    assert fill.patient_id == chain.patient_a.pk
    assert Hl7Message.objects.get().linked["fills"] == [fill.pk]


def test_an_rds_without_claim_amounts_is_answered_ae_naming_them(
    chain: SimpleNamespace,
) -> None:
    message = rds(facility=chain.loc_a.ncpdp_id, zcl=None)
    ack = post(client_for(chain), message).content.decode()
    assert field(ack, "MSA", 1) == "AE"
    err = fields(ack, "ERR")
    assert err[2] == "ZCL"
    assert err[3].startswith("101^")
    assert "ZCL-11 total paid" in err[8]
    assert not Fill.objects.exists()


def test_the_same_message_again_gets_the_same_ack_and_writes_nothing_more(
    chain: SimpleNamespace,
) -> None:
    client = client_for(chain)
    message = vxu(facility=chain.loc_a.ncpdp_id, patient_id=chain.patient_a.pms_patient_id)
    first = post(client, message).content
    second = post(client, message).content
    assert first == second
    stored = Hl7Message.objects.get()
    assert stored.times_received == 2
    assert Immunization.objects.count() == 1


def test_a_new_control_id_for_the_same_dose_changes_nothing(chain: SimpleNamespace) -> None:
    client = client_for(chain)
    pid = chain.patient_a.pms_patient_id
    post(client, vxu(facility=chain.loc_a.ncpdp_id, patient_id=pid))
    again = post(client, vxu(facility=chain.loc_a.ncpdp_id, patient_id=pid, control_id="VXU-2"))
    assert field(again.content.decode(), "MSA", 1) == "AA"
    assert Immunization.objects.count() == 1
    assert Hl7Message.objects.count() == 2
    # the second message links the dose it found unchanged, and its sender's record id
    dose = Immunization.objects.get()
    linked = Hl7Message.objects.get(control_id="VXU-2").linked
    assert linked["immunizations"] == [dose.pk]
    assert linked["records"] == {"42": dose.pk}
    assert linked["counts"] == {"inserted": 0, "updated": 0, "unchanged": 1}


@pytest.mark.parametrize("which", ["unknown", "foreign"])
def test_a_facility_that_is_not_one_of_the_organizations_stores_is_rejected(
    chain: SimpleNamespace, other_chain: SimpleNamespace, which: str
) -> None:
    facility = "9999999" if which == "unknown" else other_chain.loc.ncpdp_id
    ack = post(client_for(chain), adt(facility=facility)).content.decode()
    assert field(ack, "MSA", 1) == "AR"
    assert field(ack, "MSA", 2) == "ADT-1"
    err = fields(ack, "ERR")
    assert err[2] == "MSH^1^4"
    assert err[3] == "204^Unknown key identifier^HL70357"
    assert err[4] == "E"
    assert facility in err[8]
    other_chain.patient.refresh_from_db()
    assert other_chain.patient.last_name != "Testperson"


def test_a_token_scoped_to_one_store_cannot_send_for_another(chain: SimpleNamespace) -> None:
    issued = api_token_create(
        organization=chain.org, name="Store A", scopes=ALL_SCOPES, locations=[chain.loc_a]
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issued.key}")
    ack = post(client, adt(facility=chain.loc_b.ncpdp_id)).content.decode()
    assert field(ack, "MSA", 1) == "AR"


@pytest.mark.parametrize(
    ("scopes", "message"),
    [
        (["claims:write"], vxu()),
        (["clinical:write"], adt()),
        (["clinical:write"], rds()),
        (["jobs:read"], adt()),
    ],
)
def test_a_token_without_the_message_types_scope_is_refused(
    chain: SimpleNamespace, scopes: list[str], message: str
) -> None:
    message = message.replace("5500001", chain.loc_a.ncpdp_id)
    response = post(client_for(chain, scopes), message)
    assert response.status_code == 403
    assert not Hl7Message.objects.exists()


def test_a_body_that_is_not_hl7_text_is_415(chain: SimpleNamespace) -> None:
    response = post(client_for(chain), '{"msh": 1}', content_type="application/json")
    assert response.status_code == 415


def test_no_token_is_401(db: Any) -> None:
    assert post(APIClient(), adt()).status_code == 401


def test_a_body_over_the_limit_is_413(chain: SimpleNamespace) -> None:
    response = post(client_for(chain), "MSH|" + "x" * (1024 * 1024 + 10))
    assert response.status_code == 413


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x00\x01\x02",
        b"MSH|",
        b"MSH|^~\\&",
        b"MSH|^~\\&|a|b|c|d|e||ADT^A08|\r",
        b"\xff\xfe MSH|^~\\&",
        b"MSH|^~\\&|a|5500001|c|d|e||ADT^A08^ADT_A01|X|P|2.5.1\rEVN\rPID|\x00|\rPV1",
        b"MSH|^~\\&|a|5500001|c|d|e||VXU^V04|X|P|2.5.1\rPID|1||1\rORC\rRXA|" + b"|" * 40,
        b"MSH|^~\\&|a|5500001|c|d|e||RDS^O13|X|P|2.5.1\rORC\rRXD|x|y|z\rRXR\rZCL|" + b"\\" * 9,
        b"MSH\rMSH\rMSH",
        b"\x0b\x1c\r",
    ],
)
def test_any_body_is_answered_with_an_ack_never_a_500(chain: SimpleNamespace, body: bytes) -> None:
    body = body.replace(b"5500001", chain.loc_a.ncpdp_id.encode())
    response = post(client_for(chain), body)
    assert response.status_code == 200
    ack = response.content.decode()
    assert field(ack, "MSA", 1) in ("AE", "AR")
    assert fields(ack, "ERR")[8]


def test_a_failure_while_writing_rolls_back_answers_ae_207_and_a_resend_is_processed(
    chain: SimpleNamespace,
) -> None:
    from django.db import connection

    patient = chain.patient_a
    message = adt(facility=chain.loc_a.ncpdp_id, patient_id=patient.pms_patient_id, last="New")
    client = client_for(chain)
    with connection.cursor() as cur:  # a real database failure, not a stand-in
        cur.execute(
            "CREATE FUNCTION hl7_test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'disk on fire'; END $$"
        )
        cur.execute(
            "CREATE TRIGGER hl7_test_refuse BEFORE UPDATE ON claims_patient "
            "FOR EACH ROW EXECUTE FUNCTION hl7_test_refuse()"
        )
    ack = post(client, message).content.decode()
    assert field(ack, "MSA", 1) == "AE"
    err = fields(ack, "ERR")
    assert err[3] == "207^Application internal error^HL70357"
    assert "disk on fire" not in ack  # the sender is told to retry, not our internals
    patient.refresh_from_db()
    assert patient.last_name != "New"
    failed = Hl7Message.objects.get()
    assert failed.retryable
    assert "disk on fire" in failed.errors[-1]["internal"]  # kept for support, not sent
    with connection.cursor() as cur:
        cur.execute("DROP TRIGGER hl7_test_refuse ON claims_patient")
    again = post(client, message).content.decode()
    assert field(again, "MSA", 1) == "AA"
    patient.refresh_from_db()
    assert patient.last_name == "New"
    assert Hl7Message.objects.count() == 2
