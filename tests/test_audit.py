"""The audit log records patient-level reads, sign-ins and changes, and cannot be altered."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.test import Client

from rxrevops.models import AuditEvent
from rxrevops.services.audit import audit_record
from rxrevops.services.tokens import api_token_create
from tests.factories import PASSWORD


def test_database_refuses_to_update_or_delete_audit_rows(chain: Any) -> None:
    event = audit_record(actor=chain.owner, action=AuditEvent.Action.VIEW, summary="x")
    for sql in (
        "UPDATE rxrevops_auditevent SET summary = 'tampered' WHERE id = %s",
        "DELETE FROM rxrevops_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cur,
        ):
            cur.execute(sql, [event.pk])
    event.refresh_from_db()
    assert event.summary == "x"


def test_model_refuses_to_save_an_existing_audit_row(chain: Any) -> None:
    event = audit_record(actor=chain.owner, action=AuditEvent.Action.VIEW)
    event.summary = "changed"
    with pytest.raises(ValueError, match="append-only"):
        event.save()


def test_sign_in_and_failed_sign_in_are_recorded(chain: Any) -> None:
    client = Client()
    client.post("/accounts/login/", {"username": chain.owner.username, "password": "wrong"})
    client.post("/accounts/login/", {"username": chain.owner.username, "password": PASSWORD})
    actions = list(
        AuditEvent.objects.filter(actor_label=chain.owner.username)
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["login_failed", "login"]


def test_viewing_a_patient_is_recorded_with_who_and_where(chain: Any, login: Any) -> None:
    login(chain.technician_a).get(f"/patients/{chain.patient_a.pk}/")
    event = AuditEvent.objects.get(action="view", object_id=str(chain.patient_a.pk))
    assert event.actor_user == chain.technician_a
    assert event.location == chain.loc_a
    assert event.organization == chain.org
    assert event.object_type == "claims.Patient"


def test_api_reads_of_a_patient_are_recorded_against_the_token(chain: Any, api_login: Any) -> None:
    issued = api_token_create(organization=chain.org, name="PMS", scopes=["claims:read"])
    api_login(token=issued.key).get(f"/api/v1/patients/{chain.patient_b.pk}/")
    event = AuditEvent.objects.get(action="view", object_id=str(chain.patient_b.pk))
    assert event.actor_token == issued.token
    assert event.location == chain.loc_b


def test_refused_reads_are_not_recorded_as_views(chain: Any, login: Any) -> None:
    login(chain.technician_a).get(f"/patients/{chain.patient_b.pk}/")
    assert not AuditEvent.objects.filter(object_id=str(chain.patient_b.pk)).exists()


def test_owner_browses_and_filters_the_audit_log(chain: Any, login: Any) -> None:
    login(chain.technician_a).get(f"/patients/{chain.patient_a.pk}/")
    owner = login(chain.owner)
    page = owner.get("/audit/").content.decode()
    assert chain.technician_a.username in page
    filtered = owner.get("/audit/", {"action": "login"}).content.decode()
    assert "claims.Patient" not in filtered


def test_owner_of_another_organization_sees_none_of_this_chains_audit(
    chain: Any, other_chain: Any, login: Any
) -> None:
    login(chain.technician_a).get(f"/patients/{chain.patient_a.pk}/")
    page = login(other_chain.owner).get("/audit/").content.decode()
    assert chain.technician_a.username not in page


def test_non_owners_cannot_open_the_audit_log(chain: Any, login: Any) -> None:
    assert login(chain.revenue).get("/audit/").status_code == 403


def test_owner_exports_the_filtered_audit_log_as_csv_and_the_export_is_recorded(
    chain: Any, other_chain: Any, login: Any
) -> None:
    login(chain.technician_a).get(f"/patients/{chain.patient_a.pk}/")
    login(other_chain.owner).get(f"/patients/{other_chain.patient.pk}/")
    AuditEvent.objects.create(
        organization=chain.org, action="view", actor_label="=HYPERLINK(1)", summary="x"
    )
    owner = login(chain.owner)
    response = owner.get("/audit/export.csv", {"action": "view"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["occurred_at", "actor", "action"]
    body = rows[1:]
    assert body
    assert all(r[2] == "Viewed" for r in body)
    assert any(
        r[1] == chain.technician_a.username and r[4] == str(chain.patient_a.pk) for r in body
    )
    # another organization's events are not in it; a formula is neutralized
    assert AuditEvent.objects.filter(object_id=str(other_chain.patient.pk)).exists()
    assert not any(r[4] == str(other_chain.patient.pk) for r in body)
    assert any(r[1] == "'=HYPERLINK(1)" for r in body)
    exported = AuditEvent.objects.get(action="export", actor_user=chain.owner)
    assert "Audit log export" in exported.summary


def test_non_owners_cannot_export_the_audit_log(chain: Any, login: Any) -> None:
    assert login(chain.revenue).get("/audit/export.csv").status_code == 403
