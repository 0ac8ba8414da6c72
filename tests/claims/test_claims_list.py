"""Claims list: per store, filtered, paginated, exported with formulas neutralized."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from openpyxl import load_workbook

from claims.models import Fill, Patient
from claims.services.pms_import import pms_import_path
from rxrevops.models import AuditEvent
from tests.support.pms_fixtures import pms_file


@pytest.fixture
def loaded(stores: SimpleNamespace, world_files: Path, world_manifest: dict[str, Any]) -> Any:
    for loc in stores.locations[:2]:
        pms_import_path(
            location=loc,
            path=pms_file(
                world_manifest,
                world_files,
                layout="canonical",
                location=loc.ncpdp_id,
                period="2026-01",
            ),
        )
    return stores


def _csv(response: Any) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_store_user_sees_and_exports_only_their_stores_claims(loaded: Any, login: Any) -> None:
    client = login(loaded.pharmacist_0)
    page = client.get("/claims/")
    assert page.status_code == 200
    own = Fill.objects.filter(location=loaded.locations[0]).count()
    assert page.context["page"].paginator.count == own
    # asking for another store's claims is not a way around the scope
    other = client.get("/claims/", {"location": loaded.locations[1].pk})
    assert other.context["page"].paginator.count == own
    rows = _csv(client.get("/claims/", {"export": "csv"}))
    assert len(rows) - 1 == own
    assert {r[0] for r in rows[1:]} == {loaded.locations[0].ncpdp_id}


def test_filters_narrow_the_list(loaded: Any, login: Any) -> None:
    client = login(loaded.owner)
    store = loaded.locations[1]
    reversed_count = Fill.objects.filter(location=store, status="reversed").count()
    response = client.get("/claims/", {"location": store.pk, "status": "reversed"})
    assert response.context["page"].paginator.count == reversed_count > 0
    patient = Patient.objects.filter(location=store).first()
    assert patient is not None
    mine = client.get("/claims/", {"patient": patient.pms_patient_id})
    assert mine.context["page"].paginator.count == Fill.objects.filter(patient=patient).count()
    fill = Fill.objects.filter(location=store).select_related("drug").first()
    assert fill is not None
    by_ndc = client.get("/claims/", {"drug": fill.drug.ndc, "location": store.pk})
    assert (
        by_ndc.context["page"].paginator.count
        == Fill.objects.filter(location=store, drug=fill.drug).count()
    )
    window = client.get("/claims/", {"since": "2026-01-10", "until": "2026-01-12"})
    assert all(
        "2026-01-10" <= str(f.date_of_service) <= "2026-01-12"
        for f in window.context["page"].object_list
    )


def test_exports_neutralize_spreadsheet_formulas_and_are_audited(loaded: Any, login: Any) -> None:
    fill = Fill.objects.filter(location=loaded.locations[0]).first()
    assert fill is not None
    Fill.objects.filter(pk=fill.pk).update(authorization_number="=cmd|' /c calc'!A0")
    client = login(loaded.owner)
    rows = _csv(client.get("/claims/", {"export": "csv"}))
    assert "'=cmd|' /c calc'!A0" in [r[-1] for r in rows]
    xlsx = client.get("/claims/", {"export": "xlsx"})
    sheet = load_workbook(io.BytesIO(xlsx.content), read_only=True).active
    assert sheet is not None
    values = [row[-1] for row in sheet.iter_rows(values_only=True)]
    assert "'=cmd|' /c calc'!A0" in values
    assert AuditEvent.objects.filter(action="export", actor_user=loaded.owner).count() == 2


def test_money_exports_as_numbers_a_negative_amount_too(loaded: Any, login: Any) -> None:
    fill = Fill.objects.filter(location=loaded.locations[0]).first()
    assert fill is not None
    Fill.objects.filter(pk=fill.pk).update(total_paid_cents=-1234, authorization_number="-5 A")
    client = login(loaded.owner)
    rows = _csv(client.get("/claims/", {"export": "csv"}))
    paid_at = rows[0].index("total_paid")
    row = next(r for r in rows if r[-1] == "'-5 A")  # text that starts with "-" is quoted
    assert row[paid_at] == "-12.34"  # a negative number is not
    xlsx = client.get("/claims/", {"export": "xlsx"})
    sheet = load_workbook(io.BytesIO(xlsx.content), read_only=True).active
    assert sheet is not None
    cells = [r for r in sheet.iter_rows(values_only=True) if r[-1] == "'-5 A"]
    assert cells[0][paid_at] == -12.34  # a number cell (openpyxl reads numbers back as float)


def test_technicians_do_not_get_the_claims_list(loaded: Any, login: Any) -> None:
    assert login(loaded.technician_0).get("/claims/").status_code == 403
