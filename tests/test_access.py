"""Every location sees only its own data: over HTML, over the API with a session, over the
API with a token. Another location's row answers exactly like a row that does not exist."""

from __future__ import annotations

from typing import Any

import pytest

from rxrevops.access import location_ids_for_user, roles_for_user
from rxrevops.models import Job, Organization, Role
from rxrevops.services.tokens import api_token_create
from tests.factories import LocationFactory, OrganizationFactory, PatientFactory, member


def test_location_scoped_user_reaches_only_named_locations(chain: Any) -> None:
    assert location_ids_for_user(chain.technician_a) == {chain.loc_a.pk}
    assert location_ids_for_user(chain.pharmacist_b) == {chain.loc_b.pk}
    assert location_ids_for_user(chain.owner) == {chain.loc_a.pk, chain.loc_b.pk}
    assert roles_for_user(chain.technician_a) == {Role.TECHNICIAN}


def test_user_of_location_a_gets_404_for_location_b_patient_page(chain: Any, login: Any) -> None:
    client = login(chain.technician_a)
    assert client.get(f"/patients/{chain.patient_a.pk}/").status_code == 200
    assert client.get(f"/patients/{chain.patient_b.pk}/").status_code == 404


def test_another_locations_patient_looks_like_a_missing_one(chain: Any, login: Any) -> None:
    client = login(chain.technician_a)
    foreign = client.get(f"/patients/{chain.patient_b.pk}/")
    missing = client.get("/patients/999999/")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.content == missing.content


def test_patient_list_shows_only_own_locations_patients(chain: Any, login: Any) -> None:
    body = login(chain.technician_a).get("/patients/").content.decode()
    assert chain.patient_a.last_name in body
    assert chain.patient_b.last_name not in body


def test_user_of_location_a_gets_404_for_location_b_patient_over_api(
    chain: Any, api_login: Any
) -> None:
    client = api_login(chain.technician_a)
    assert client.get(f"/api/v1/patients/{chain.patient_a.pk}/").status_code == 200
    assert client.get(f"/api/v1/patients/{chain.patient_b.pk}/").status_code == 404
    listed = {p["id"] for p in client.get("/api/v1/patients/").json()["results"]}
    assert listed == {chain.patient_a.pk}


def test_owner_of_another_organization_sees_nothing_of_this_chain(
    chain: Any, other_chain: Any, login: Any, api_login: Any
) -> None:
    assert login(other_chain.owner).get(f"/patients/{chain.patient_a.pk}/").status_code == 404
    api = api_login(other_chain.owner)
    assert api.get(f"/api/v1/patients/{chain.patient_a.pk}/").status_code == 404
    assert api.get(f"/api/v1/locations/{chain.loc_a.pk}/").status_code == 404
    listed = {p["id"] for p in api.get("/api/v1/patients/").json()["results"]}
    assert listed == {other_chain.patient.pk}


def test_token_scoped_to_location_a_cannot_read_location_b(chain: Any, api_login: Any) -> None:
    issued = api_token_create(
        organization=chain.org, name="PMS A", scopes=["claims:read"], locations=[chain.loc_a]
    )
    client = api_login(token=issued.key)
    assert client.get(f"/api/v1/patients/{chain.patient_a.pk}/").status_code == 200
    assert client.get(f"/api/v1/patients/{chain.patient_b.pk}/").status_code == 404
    assert client.get(f"/api/v1/locations/{chain.loc_b.pk}/").status_code == 404
    locations = [loc["ncpdp_id"] for loc in client.get("/api/v1/locations/").json()["results"]]
    assert locations == [chain.loc_a.ncpdp_id]


def test_organization_wide_token_reads_every_location_of_its_organization_only(
    chain: Any, other_chain: Any, api_login: Any
) -> None:
    issued = api_token_create(organization=chain.org, name="HQ", scopes=["claims:read"])
    client = api_login(token=issued.key)
    listed = {p["id"] for p in client.get("/api/v1/patients/").json()["results"]}
    assert listed == {chain.patient_a.pk, chain.patient_b.pk}
    assert client.get(f"/api/v1/patients/{other_chain.patient.pk}/").status_code == 404


def test_job_of_location_a_is_404_for_location_b_user_over_html_and_api(
    chain: Any, login: Any, api_login: Any
) -> None:
    job = Job.objects.create(organization=chain.org, location=chain.loc_a, kind="test.count")
    assert login(chain.pharmacist_b).get(f"/jobs/{job.pk}/").status_code == 404
    assert api_login(chain.pharmacist_b).get(f"/api/v1/jobs/{job.pk}/").status_code == 404
    assert login(chain.owner).get(f"/jobs/{job.pk}/").status_code == 200
    assert api_login(chain.owner).get(f"/api/v1/jobs/{job.pk}/").status_code == 200


def test_technicians_do_not_open_job_pages_which_hold_import_row_values(
    chain: Any, login: Any, api_login: Any
) -> None:
    job = Job.objects.create(organization=chain.org, location=chain.loc_a, kind="test.count")
    assert login(chain.technician_a).get(f"/jobs/{job.pk}/").status_code == 403
    assert api_login(chain.technician_a).get(f"/api/v1/jobs/{job.pk}/").status_code == 403


def test_organization_wide_job_is_hidden_from_location_scoped_users(chain: Any, login: Any) -> None:
    job = Job.objects.create(organization=chain.org, location=None, kind="test.count")
    assert login(chain.pharmacist_b).get(f"/jobs/{job.pk}/").status_code == 404
    assert login(chain.revenue).get(f"/jobs/{job.pk}/").status_code == 200


def test_network_staff_reach_member_pharmacies_but_members_do_not_see_each_other(
    db: Any, login: Any
) -> None:
    network = OrganizationFactory.create(kind=Organization.Kind.NETWORK, slug="psao")
    member_1 = OrganizationFactory.create(kind=Organization.Kind.MEMBER, network=network)
    member_2 = OrganizationFactory.create(kind=Organization.Kind.MEMBER, network=network)
    store_1 = LocationFactory.create(organization=member_1)
    store_2 = LocationFactory.create(organization=member_2)
    central = member(organization=network, role=Role.REVENUE)
    owner_1 = member(organization=member_1, role=Role.OWNER)
    assert location_ids_for_user(central) == {store_1.pk, store_2.pk}
    assert location_ids_for_user(owner_1) == {store_1.pk}
    patient_2 = PatientFactory.create(location=store_2)
    assert login(owner_1).get(f"/patients/{patient_2.pk}/").status_code == 404
    assert login(central).get(f"/patients/{patient_2.pk}/").status_code == 200


@pytest.mark.parametrize("path", ["/patients/", "/dashboards/", "/jobs/", "/audit/"])
def test_anonymous_visitors_are_sent_to_sign_in(client: Any, path: str, db: Any) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_anonymous_api_calls_are_refused(client: Any, chain: Any) -> None:
    response = client.get(f"/api/v1/patients/{chain.patient_a.pk}/")
    assert response.status_code in (401, 403)
