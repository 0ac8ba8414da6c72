"""MTM encounters over the API: an integration pushes a documented CMR, signed in one call;
bad input names its fields and writes nothing; another store's rows are 404."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from clinical.models import ClinicalClaim, Encounter
from rxrevops.services.tokens import api_token_create
from tests.support.adherence_world import AS_OF
from tests.support.problems import errors_by_field

pytestmark = pytest.mark.django_db
URL = "/api/v1/mtm/encounters/"


def _token(chain: SimpleNamespace, *scopes: str, **kwargs: Any) -> str:
    return api_token_create(organization=chain.org, name="PMS", scopes=list(scopes), **kwargs).key


def cmr(patient: Any, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "patient": patient.pk,
        "kind": "cmr",
        "held_on": AS_OF.isoformat(),
        "mode": "phone",
        "minutes": 45,
        "assessment": "Adherence gaps with the statin.",
        "plan": "Pill box; 90-day fills.",
        "problems": [
            {
                "reason_code": "SC",
                "service_code": "PE",
                "result_code": "3M",
                "talked_about": "Missing evening doses",
                "patient_action": "Use the weekly pill box",
            }
        ],
        "medications": [
            {"name": "Atorvastatin 20 mg", "source": "fill", "how_used": "1 at night"},
            {"name": "Vitamin D 1000 IU", "source": "supplement", "how_used": "1 daily"},
        ],
        "sign": True,
    }
    body.update(overrides)
    return body


def test_a_token_pushes_a_signed_cmr_and_reads_it_back(
    worklist_chain: SimpleNamespace, api_login: Any
) -> None:
    chain = worklist_chain
    client = api_login(token=_token(chain, "clinical:write"))
    resp = client.post(URL, cmr(chain.at_risk), format="json")
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["status"] == "signed"
    assert body["mode"] == "phone"
    assert [m["name"] for m in body["medications"]] == ["Atorvastatin 20 mg", "Vitamin D 1000 IU"]
    assert body["problems"][0]["reason_code"] == "SC"
    # 45 minutes, new patient: 99605 + 99607 x2
    assert body["billed_cents"] == 7500 + 2 * 2500
    assert ClinicalClaim.objects.get().billed_cents == 12500

    listed = client.get(URL).json()["results"]
    assert [e["id"] for e in listed] == [body["id"]]
    one = client.get(f"{URL}{body['id']}/")
    assert one.status_code == 200
    assert one.json()["series"] == body["series"]


def test_a_push_that_cannot_be_signed_names_the_fields_and_writes_nothing(
    worklist_chain: SimpleNamespace, api_login: Any
) -> None:
    chain = worklist_chain
    client = api_login(token=_token(chain, "clinical:write"))
    resp = client.post(URL, cmr(chain.at_risk, minutes=0, assessment=""), format="json")
    assert resp.status_code == 400
    assert set(errors_by_field(resp)) >= {"minutes", "assessment"}
    bad_code = cmr(chain.at_risk)
    bad_code["problems"][0]["reason_code"] = "QQ"
    resp = client.post(URL, bad_code, format="json")
    assert resp.status_code == 400
    assert "problems.0.reason_code" in errors_by_field(resp)
    missing = client.post(URL, {"kind": "cmr"}, format="json")
    assert missing.status_code == 400
    assert "patient" in errors_by_field(missing)
    assert not Encounter.objects.exists()
    assert not ClinicalClaim.objects.exists()


def test_a_draft_push_refuses_to_write_over_an_open_draft(
    worklist_chain: SimpleNamespace, api_login: Any
) -> None:
    chain = worklist_chain
    client = api_login(token=_token(chain, "clinical:write"))
    first = client.post(URL, cmr(chain.at_risk, sign=False), format="json")
    assert first.status_code == 201
    assert first.json()["status"] == "draft"
    again = client.post(URL, cmr(chain.at_risk), format="json")
    assert again.status_code == 400
    assert "already open" in errors_by_field(again)["patient"][0]


def test_another_stores_patient_and_encounter_are_404_and_scopes_are_checked(
    worklist_chain: SimpleNamespace, api_login: Any
) -> None:
    chain = worklist_chain
    full = api_login(token=_token(chain, "clinical:write"))
    made = full.post(URL, cmr(chain.at_risk), format="json").json()
    store_b = api_login(token=_token(chain, "clinical:write", locations=[chain.loc_b]))
    assert store_b.post(URL, cmr(chain.at_risk), format="json").status_code == 404
    assert store_b.get(f"{URL}{made['id']}/").status_code == 404
    assert store_b.get(URL).json()["results"] == []
    reader = api_login(token=_token(chain, "worklists:read"))
    assert reader.get(URL).status_code == 403
    assert api_login(chain.technician_a).get(URL).status_code == 403
