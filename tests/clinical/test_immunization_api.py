"""Immunizations over the API: pushing a dose and listing the caller's stores' doses."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from django.utils import timezone

from clinical.models import Immunization
from rxrevops.services.tokens import api_token_create
from tests.support.problems import errors_by_field

URL = "/api/v1/immunizations/"


def _token(chain: SimpleNamespace, *scopes: str, **kwargs: Any) -> str:
    return api_token_create(organization=chain.org, name="PMS", scopes=list(scopes), **kwargs).key


def dose(patient: Any, **overrides: Any) -> dict[str, Any]:
    today = timezone.localdate().isoformat()
    data = {
        "patient": patient.pk,
        "administered_on": today,
        "cvx": "150",
        "mvx": "SKB",
        "lot": "FLAPI1",
        "expiration": "2027-06-30",
        "dose_ml": "0.50",
        "site": "LD",
        "route": "IM",
        "vis_edition_date": "2023-08-06",
        "vis_given_on": today,
        "funding_eligibility": "V01",
        "billed_amount": "40.29",
    }
    data.update(overrides)
    return data


def test_a_token_with_clinical_write_pushes_a_dose_and_gets_it_back(
    worklist_chain: SimpleNamespace, api_login: Any
) -> None:
    chain = worklist_chain
    client = api_login(token=_token(chain, "clinical:write"))
    response = client.post(URL, dose(chain.at_risk_b), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    imm = Immunization.objects.get(patient=chain.at_risk_b)
    assert body["id"] == imm.pk
    assert body["location"] == chain.loc_b.ncpdp_id
    assert (body["cvx"], body["mvx"], body["route"], body["billed_cents"]) == (
        "150",
        "SKB",
        "C28161",
        4029,
    )
    assert imm.billed_cents == 4029


def test_an_expired_lot_is_a_400_naming_expiration(
    worklist_chain: SimpleNamespace, api_login: Any
) -> None:
    chain = worklist_chain
    client = api_login(token=_token(chain, "clinical:write"))
    response = client.post(URL, dose(chain.at_risk_b, expiration="2025-01-31"), format="json")
    assert response.status_code == 400
    assert list(errors_by_field(response)) == ["expiration"]
    assert not Immunization.objects.exists()


def test_another_stores_patient_is_a_404(worklist_chain: SimpleNamespace, api_login: Any) -> None:
    chain = worklist_chain
    session = api_login(chain.pharmacist_b)
    assert session.post(URL, dose(chain.late), format="json").status_code == 404
    store_b_token = _token(chain, "clinical:write", locations=[chain.loc_b])
    token = api_login(token=store_b_token)
    assert token.post(URL, dose(chain.late), format="json").status_code == 404
    assert not Immunization.objects.exists()


def test_a_token_without_clinical_write_or_a_technician_is_refused(
    worklist_chain: SimpleNamespace, api_login: Any
) -> None:
    chain = worklist_chain
    client = api_login(token=_token(chain, "worklists:read", "metrics:read"))
    assert client.post(URL, dose(chain.at_risk_b), format="json").status_code == 403
    assert client.get(URL).status_code == 403
    technician = api_login(chain.technician_a)
    assert technician.post(URL, dose(chain.late), format="json").status_code == 403
    assert not Immunization.objects.exists()


def test_the_list_has_only_the_callers_stores_doses(
    worklist_chain: SimpleNamespace, api_login: Any
) -> None:
    chain = worklist_chain
    owner = api_login(chain.owner)
    assert owner.post(URL, dose(chain.late, lot="ALOT"), format="json").status_code == 201
    assert owner.post(URL, dose(chain.at_risk_b, lot="BLOT"), format="json").status_code == 201

    rows = api_login(chain.pharmacist_b).get(URL).json()["results"]
    assert [(r["lot"], r["patient"]) for r in rows] == [("BLOT", chain.at_risk_b.pk)]

    everyone = owner.get(URL).json()["results"]
    assert sorted(r["lot"] for r in everyone) == ["ALOT", "BLOT"]
    by_store = owner.get(URL, {"location": chain.loc_a.ncpdp_id}).json()["results"]
    assert [r["lot"] for r in by_store] == ["ALOT"]
    by_patient = owner.get(URL, {"patient": chain.at_risk_b.pk}).json()["results"]
    assert [r["lot"] for r in by_patient] == ["BLOT"]
    later = owner.get(URL, {"since": "2099-01-01"}).json()["results"]
    assert later == []
