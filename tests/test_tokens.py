"""Integration API tokens: created by an owner, stored hashed, scoped, revocable."""

from __future__ import annotations

import hashlib
from io import StringIO
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from rxrevops.models import ApiToken, AuditEvent
from rxrevops.services.tokens import api_token_create, api_token_revoke


def test_only_the_hash_of_a_key_is_stored(chain: Any) -> None:
    issued = api_token_create(organization=chain.org, name="PMS", scopes=["claims:read"])
    row = ApiToken.objects.get(pk=issued.token.pk)
    assert issued.key not in (row.key_hash, row.prefix, row.name)
    assert row.key_hash == hashlib.sha256(issued.key.encode()).hexdigest()


def test_revoked_token_is_refused(chain: Any, api_login: Any) -> None:
    issued = api_token_create(organization=chain.org, name="PMS", scopes=["claims:read"])
    client = api_login(token=issued.key)
    assert client.get("/api/v1/me/").status_code == 200
    api_token_revoke(token=issued.token, revoked_by=chain.owner)
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize(
    "header", ["Token rxr_deadbeef_nope", "Token not-a-key", "Token", "Token a b"]
)
def test_wrong_or_malformed_keys_are_refused(chain: Any, client: Any, header: str) -> None:
    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401


def test_key_with_a_valid_prefix_but_wrong_secret_is_refused(chain: Any, client: Any) -> None:
    issued = api_token_create(organization=chain.org, name="PMS", scopes=["claims:read"])
    forged = issued.key[:-4] + ("AAAA" if not issued.key.endswith("AAAA") else "BBBB")
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {forged}").status_code == 401


def test_token_without_the_scope_is_forbidden(chain: Any, api_login: Any) -> None:
    issued = api_token_create(organization=chain.org, name="Jobs only", scopes=["jobs:read"])
    client = api_login(token=issued.key)
    assert client.get("/api/v1/patients/").status_code == 403
    assert client.get("/api/v1/jobs/").status_code == 200


def test_use_records_last_used_time(chain: Any, api_login: Any) -> None:
    issued = api_token_create(organization=chain.org, name="PMS", scopes=["claims:read"])
    assert issued.token.last_used_at is None
    api_login(token=issued.key).get("/api/v1/me/")
    issued.token.refresh_from_db()
    assert issued.token.last_used_at is not None


def test_token_cannot_name_a_location_of_another_organization(chain: Any, other_chain: Any) -> None:
    with pytest.raises(ValidationError, match="not in"):
        api_token_create(
            organization=chain.org, name="x", scopes=["claims:read"], locations=[other_chain.loc]
        )


def test_unknown_scope_is_rejected_with_the_known_ones(chain: Any) -> None:
    with pytest.raises(ValidationError, match="claims:read"):
        api_token_create(organization=chain.org, name="x", scopes=["everything"])


def test_command_prints_a_working_key_on_its_last_line(chain: Any, api_login: Any) -> None:
    out = StringIO()
    call_command(
        "create_api_token",
        "--org",
        chain.org.slug,
        "--location",
        chain.loc_a.ncpdp_id,
        "--scope",
        "claims:read",
        stdout=out,
        stderr=StringIO(),
    )
    key = out.getvalue().strip().splitlines()[-1]
    me = api_login(token=key).get("/api/v1/me/").json()
    assert me["kind"] == "token"
    assert me["scopes"] == ["claims:read"]
    assert [loc["ncpdp_id"] for loc in me["locations"]] == [chain.loc_a.ncpdp_id]


def test_command_explains_an_unknown_organization_or_location(chain: Any) -> None:
    with pytest.raises(CommandError, match="Known: maple"):
        call_command(
            "create_api_token", "--org", "nope", "--scope", "claims:read", stdout=StringIO()
        )
    with pytest.raises(CommandError, match="Not locations of maple: 0000000"):
        call_command(
            "create_api_token",
            "--org",
            "maple",
            "--location",
            "0000000",
            "--scope",
            "claims:read",
            stdout=StringIO(),
        )


def test_owner_creates_a_token_on_the_page_and_sees_the_key_once(
    chain: Any, login: Any, api_login: Any
) -> None:
    client = login(chain.owner)
    response = client.post(
        "/settings/tokens/",
        {
            "name": "PioneerRx push",
            "organization": chain.org.pk,
            "scopes": ["claims:read", "jobs:read"],
            "locations": [chain.loc_b.pk],
        },
    )
    assert response.status_code == 200
    key = response.context["issued"].key
    assert key in response.content.decode()
    assert key not in client.get("/settings/tokens/").content.decode()
    listed = api_login(token=key).get("/api/v1/patients/").json()["results"]
    assert [p["id"] for p in listed] == [chain.patient_b.pk]
    assert AuditEvent.objects.filter(action="token_create", actor_user=chain.owner).exists()


def test_owner_revokes_a_token_from_the_page(chain: Any, login: Any, api_login: Any) -> None:
    issued = api_token_create(organization=chain.org, name="Old PMS", scopes=["claims:read"])
    response = login(chain.owner).post(f"/settings/tokens/{issued.token.pk}/revoke/")
    assert response.status_code == 302
    assert api_login(token=issued.key).get("/api/v1/me/").status_code == 401


def test_owner_of_another_organization_cannot_revoke_this_chains_token(
    chain: Any, other_chain: Any, login: Any
) -> None:
    issued = api_token_create(organization=chain.org, name="PMS", scopes=["claims:read"])
    response = login(other_chain.owner).post(f"/settings/tokens/{issued.token.pk}/revoke/")
    assert response.status_code == 404
    issued.token.refresh_from_db()
    assert issued.token.revoked_at is None


def test_form_refuses_a_token_without_scopes(chain: Any, login: Any) -> None:
    response = login(chain.owner).post(
        "/settings/tokens/", {"name": "x", "organization": chain.org.pk}
    )
    assert response.status_code == 400
    assert ApiToken.objects.count() == 0
