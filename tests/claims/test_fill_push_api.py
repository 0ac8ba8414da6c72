"""The PMS push API: POST /api/v1/fills/, /fills/bulk/, /fills/reversals/ and /patients/,
who may call them, and for which locations."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from claims.models import Fill, Patient
from claims.services.pms_import import pms_import_path
from rxrevops.models import Job, QuarantinedRow
from rxrevops.services.tokens import api_token_create
from tests.claims.test_fill_push import fills, jan_rows
from tests.claims.test_pms_import import write_csv


def token(stores: SimpleNamespace, *scopes: str, locations: list[Any] | None = None) -> str:
    issued = api_token_create(
        organization=stores.org,
        name="PMS",
        scopes=list(scopes or ["claims:write"]),
        locations=locations or [],
    )
    return issued.key


def post(client: Any, url: str, body: object) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


@pytest.fixture
def rows(
    stores: SimpleNamespace, world_files: Path, world_manifest: dict[str, Any]
) -> list[dict[str, str]]:
    return jan_rows(stores, world_manifest, world_files)


@pytest.fixture
def client(stores: SimpleNamespace, api_login: Any) -> Any:
    return api_login(token=token(stores, "claims:write", locations=[stores.locations[0]]))


def test_one_fill_is_created_then_unchanged_then_updated(
    client: Any, rows: list[dict[str, str]], stores: SimpleNamespace
) -> None:
    row = next(r for r in rows if r["bin"])
    first = post(client, "/api/v1/fills/", row)
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["status"] == "created"
    fill = Fill.objects.get(pk=body["fill_id"])
    assert fill.location == stores.locations[0]
    assert Job.objects.get(pk=body["job"]).params == {"push": True, "source": "api"}

    again = post(client, "/api/v1/fills/", row)
    assert again.status_code == 200
    assert again.json()["status"] == "unchanged"
    assert again.json()["fill_id"] == fill.pk

    changed = post(client, "/api/v1/fills/", dict(row, acquisition_cost="123.45"))
    assert changed.status_code == 200
    assert changed.json()["status"] == "updated"
    fill.refresh_from_db()
    assert fill.acquisition_cost_cents == 12345


def test_a_rejected_fill_is_400_naming_the_field_and_quarantined_on_its_job(
    client: Any, rows: list[dict[str, str]]
) -> None:
    response = post(client, "/api/v1/fills/", dict(rows[0], date_of_service="2026-02-30"))
    assert response.status_code == 400
    text = response.content.decode()
    assert "date_of_service" in text
    assert "not a date in the form YYYY-MM-DD" in text
    assert "2026-02-30" in text
    assert not Fill.objects.exists()
    job = Job.objects.get(kind="pms")
    assert list(QuarantinedRow.objects.filter(job=job).values_list("line", "field", "value")) == [
        (0, "date_of_service", "2026-02-30")
    ]


def test_bulk_push_loads_the_good_items_and_answers_per_item(
    client: Any, rows: list[dict[str, str]], stores: SimpleNamespace
) -> None:
    fills_sent: list[dict[str, object]] = [dict(r) for r in rows[:5]]
    fills_sent[2]["quantity_dispensed"] = "lots"
    fills_sent[4]["total_amount_paid"] = 99999.99
    response = post(
        client,
        "/api/v1/fills/bulk/",
        {"location": stores.locations[0].ncpdp_id, "fills": fills_sent},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert [i["status"] for i in body["items"]] == [
        "created",
        "created",
        "rejected",
        "created",
        "rejected",
    ]
    assert [i["index"] for i in body["items"]] == [0, 1, 2, 3, 4]
    assert body["items"][2]["errors"] == [
        {"field": "quantity_dispensed", "value": "lots", "reason": "quantity must be a number"}
    ]
    assert body["items"][4]["errors"][0]["field"] == "total_amount_paid"
    assert body["counts"] == {
        "read": 5,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "rejected": 2,
    }
    assert Fill.objects.count() == 3
    assert QuarantinedRow.objects.filter(job_id=body["job"]).count() == 2
    again = post(client, "/api/v1/fills/bulk/", {"fills": fills_sent}).json()
    assert again["counts"]["unchanged"] == 3
    assert [i["fill_id"] for i in again["items"]] == [i["fill_id"] for i in body["items"]]


def test_bulk_pushed_rows_equal_the_file_import_of_the_same_rows(
    client: Any, rows: list[dict[str, str]], stores: SimpleNamespace, tmp_path: Path
) -> None:
    sent = rows[:300]
    header = list(sent[0])
    pms_import_path(
        location=stores.locations[1],
        path=write_csv(tmp_path / "same.csv", header, [[r[h] for h in header] for r in sent]),
    )
    # money and counts as JSON numbers, as a PMS would send them
    as_json = [
        {
            **r,
            "rx_number": int(r["rx_number"]),
            "days_supply": int(r["days_supply"]),
            "total_amount_paid": float(r["total_amount_paid"]),
        }
        for r in sent
    ]
    body = json.dumps({"fills": as_json})
    response = client.post("/api/v1/fills/bulk/", body, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["counts"]["created"] == len(sent)
    assert fills(stores.locations[0]) == fills(stores.locations[1])


def test_bulk_push_over_the_limit_is_refused_whole(
    client: Any, rows: list[dict[str, str]], settings: Any
) -> None:
    settings.FILL_PUSH_MAX_ITEMS = 3
    response = post(client, "/api/v1/fills/bulk/", {"fills": rows[:4]})
    assert response.status_code == 413
    assert "at most 3" in response.content.decode()
    assert not Job.objects.exists()
    assert post(client, "/api/v1/fills/bulk/", {"fills": rows[:3]}).status_code == 200


def test_bulk_push_refuses_a_body_that_is_not_a_list_of_fills(client: Any) -> None:
    assert post(client, "/api/v1/fills/bulk/", {"fills": []}).status_code == 400
    assert post(client, "/api/v1/fills/bulk/", {"fills": "x"}).status_code == 400
    assert post(client, "/api/v1/fills/bulk/", [1, 2]).status_code == 400
    unknown = post(client, "/api/v1/fills/bulk/", {"fills": [{}], "extra": 1})
    assert unknown.status_code == 400
    assert "extra" in unknown.content.decode()


def test_another_stores_or_organizations_location_is_404(
    client: Any,
    rows: list[dict[str, str]],
    stores: SimpleNamespace,
    other_chain: SimpleNamespace,
) -> None:
    row = dict(rows[0], pharmacy_ncpdp="")
    for location in (stores.locations[1].ncpdp_id, stores.locations[1].pk, other_chain.loc.pk):
        response = post(client, "/api/v1/fills/bulk/", {"location": location, "fills": [row]})
        assert response.status_code == 404, location
        assert post(client, "/api/v1/fills/", dict(row, location=location)).status_code == 404
    assert not Fill.objects.exists()
    assert not Job.objects.exists()


def test_location_may_be_left_out_only_by_a_caller_that_reaches_one(
    api_login: Any, rows: list[dict[str, str]], stores: SimpleNamespace
) -> None:
    org_wide = api_login(token=token(stores, "claims:write"))
    response = post(org_wide, "/api/v1/fills/", rows[0])
    assert response.status_code == 400
    assert "location" in response.content.decode()
    named = post(org_wide, "/api/v1/fills/", dict(rows[0], location=stores.locations[0].pk))
    assert named.status_code == 201


def test_a_token_without_claims_write_is_403(
    api_login: Any, rows: list[dict[str, str]], stores: SimpleNamespace
) -> None:
    reader = api_login(token=token(stores, "claims:read", "jobs:read"))
    location = stores.locations[0].pk
    assert post(reader, "/api/v1/fills/", dict(rows[0], location=location)).status_code == 403
    bulk = {"location": location, "fills": rows[:2]}
    assert post(reader, "/api/v1/fills/bulk/", bulk).status_code == 403
    patient = {"location": location, "pms_patient_id": "P1", "first_name": "A"}
    assert post(reader, "/api/v1/patients/", patient).status_code == 403
    assert not Fill.objects.exists()


def test_signed_in_staff_push_where_their_role_allows(
    api_login: Any, rows: list[dict[str, str]], stores: SimpleNamespace
) -> None:
    row = dict(rows[0], location=stores.locations[0].ncpdp_id)
    assert post(api_login(stores.technician_0), "/api/v1/fills/", row).status_code == 403
    pharmacist = api_login(stores.pharmacist_0)
    assert post(pharmacist, "/api/v1/fills/", row).status_code == 201
    elsewhere = dict(rows[0], location=stores.locations[1].ncpdp_id, pharmacy_ncpdp="")
    assert post(pharmacist, "/api/v1/fills/", elsewhere).status_code == 404
    job = Job.objects.get(kind="pms")
    assert job.created_by == stores.pharmacist_0


def _bill_and_reversal(rows: list[dict[str, str]]) -> tuple[dict[str, str], dict[str, str]]:
    reversal = next(r for r in rows if r["transaction_code"] == "B2")
    key = ("rx_number", "fill_number", "date_of_service")
    bill = next(
        r for r in rows if r["transaction_code"] == "B1" and all(r[k] == reversal[k] for k in key)
    )
    return bill, reversal


def test_a_reversal_event_marks_the_claim_reversed_like_the_exports_reversal_row(
    client: Any, rows: list[dict[str, str]], stores: SimpleNamespace, tmp_path: Path
) -> None:
    bill, reversal = _bill_and_reversal(rows)
    header = list(bill)
    pms_import_path(
        location=stores.locations[1],
        path=write_csv(
            tmp_path / "pair.csv", header, [[r[h] for h in header] for r in (bill, reversal)]
        ),
    )
    assert post(client, "/api/v1/fills/", bill).status_code == 201
    event = {
        "rx_number": int(reversal["rx_number"]),
        "fill_number": int(reversal["fill_number"]),
        "date_of_service": reversal["date_of_service"],
        "transaction_date": reversal["transaction_date"],
    }
    response = post(client, "/api/v1/fills/reversals/", event)
    assert response.status_code == 201, response.content
    assert Fill.objects.get(pk=response.json()["fill_id"]).transaction_code == "B2"
    original = Fill.objects.get(location=stores.locations[0], transaction_code="B1")
    assert original.status == Fill.Status.REVERSED
    # the same row, value for value, as the file's reversal
    assert fills(stores.locations[0]) == fills(stores.locations[1])
    again = post(client, "/api/v1/fills/reversals/", event)
    assert again.status_code == 200
    assert again.json()["status"] == "unchanged"


def test_a_reversal_may_state_its_own_amounts(
    client: Any, rows: list[dict[str, str]], stores: SimpleNamespace
) -> None:
    bill = next(r for r in rows if r["transaction_code"] == "B1" and r["bin"])
    assert post(client, "/api/v1/fills/", bill).status_code == 201
    event = {
        "rx_number": bill["rx_number"],
        "fill_number": bill["fill_number"],
        "date_of_service": bill["date_of_service"],
        "acquisition_cost": "-1.00",
    }
    response = post(client, "/api/v1/fills/reversals/", event)
    assert response.status_code == 201
    assert Fill.objects.get(pk=response.json()["fill_id"]).acquisition_cost_cents == -100


def test_a_reversal_of_an_unknown_claim_is_404_and_writes_nothing(client: Any) -> None:
    event = {"rx_number": 1, "fill_number": 0, "date_of_service": "2026-01-05"}
    response = post(client, "/api/v1/fills/reversals/", event)
    assert response.status_code == 404
    assert "No bill (B1) for Rx 1 fill 0 on 2026-01-05" in response.content.decode()
    assert not Job.objects.exists()


def test_patient_is_created_then_updated_by_its_pms_id(
    client: Any, stores: SimpleNamespace
) -> None:
    body = {
        "pms_patient_id": "PX-1",
        "first_name": "Synthia",
        "last_name": "Testperson",
        "date_of_birth": "1950-02-03",
        "sex": "F",
        "postal_code": "62701",
        "phone": "2175550100",
        "med_sync_enrolled": True,
        "med_sync_day": 12,
    }
    created = post(client, "/api/v1/patients/", body)
    assert created.status_code == 201, created.content
    patient = Patient.objects.get(pk=created.json()["id"])
    assert patient.location == stores.locations[0]
    assert (patient.med_sync_enrolled, patient.med_sync_day) == (True, 12)
    updated = post(
        client,
        "/api/v1/patients/",
        {"pms_patient_id": "PX-1", "last_name": "Newname", "med_sync_day": None},
    )
    assert updated.status_code == 200
    assert updated.json()["id"] == patient.pk
    patient.refresh_from_db()
    assert (patient.first_name, patient.last_name, patient.med_sync_day) == (
        "Synthia",
        "Newname",
        None,
    )
    assert Patient.objects.filter(pms_patient_id="PX-1").count() == 1


def test_patient_push_names_what_is_missing_or_unknown(client: Any) -> None:
    missing = post(client, "/api/v1/patients/", {"pms_patient_id": "PX-2", "first_name": "A"})
    assert missing.status_code == 400
    assert "last_name" in missing.content.decode()
    assert "date_of_birth" in missing.content.decode()
    unknown = post(client, "/api/v1/patients/", {"pms_patient_id": "PX-2", "nickname": "A"})
    assert unknown.status_code == 400
    assert "nickname" in unknown.content.decode()
    assert not Patient.objects.filter(pms_patient_id="PX-2").exists()


def test_the_schema_describes_the_push_bodies(api_login: Any, stores: SimpleNamespace) -> None:
    schema = api_login(stores.owner).get("/api/schema/?format=json").json()
    bulk = schema["paths"]["/api/v1/fills/bulk/"]["post"]
    ref = bulk["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    request = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert request["required"] == ["fills"]
    assert "200" in bulk["responses"]
    one = schema["paths"]["/api/v1/fills/"]["post"]
    assert {"200", "201"} <= set(one["responses"])
    fill_ref = request["properties"]["fills"]["items"]["$ref"]
    fill = schema["components"]["schemas"][fill_ref.rsplit("/", 1)[1]]
    assert "rx_number" in fill["required"]
    assert {"type": "number"} in fill["properties"]["total_amount_paid"]["oneOf"]
    assert "post" in schema["paths"]["/api/v1/patients/"]
    assert "post" in schema["paths"]["/api/v1/fills/reversals/"]


def test_text_postgres_cannot_store_is_refused_not_a_crash(
    client: Any, rows: list[dict[str, str]]
) -> None:
    nul = post(client, "/api/v1/fills/", dict(rows[0], patient_last_name="Test\x00person"))
    assert nul.status_code == 400
    assert "patient_last_name" in nul.content.decode()
    surrogate = client.post(
        "/api/v1/fills/bulk/",
        '{"fills": [{"ndc": "\\ud800", "\\ud800": "x"}]}',
        content_type="application/json",
    )
    assert surrogate.status_code == 200
    assert surrogate.json()["items"][0]["status"] == "rejected"
    for location in ("44\x0010001", 10**30, -1):
        assert post(client, "/api/v1/fills/", dict(rows[0], location=location)).status_code == 404
    patient = {"pms_patient_id": "P\x00", "first_name": "\ud800", "last_name": "B"}
    assert post(client, "/api/v1/patients/", patient).status_code == 400
    assert not Fill.objects.exists()
