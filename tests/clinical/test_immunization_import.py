"""Importing immunization records from a file: exact values, re-uploads, quarantined rows,
rejected files, the command, who may upload, and a retry after a crash."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from io import StringIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError

from claims.models import Patient
from claims.services.pms_import import pms_import_path
from clinical.ingest.immunizations import COLUMNS, check_row
from clinical.models import Immunization
from clinical.services import immunization_import
from clinical.services.immunization_import import (
    immunization_import_create,
    immunization_import_path,
)
from rxrevops.models import Job, QuarantinedRow, Role
from rxrevops.services.jobs import job_execute
from rxrevops.services.tokens import api_token_create
from tests.factories import member


@pytest.fixture
def patients(stores: SimpleNamespace, world_files: Path, world_manifest: dict[str, Any]) -> None:
    """The stores' patients, through their PMS exports (the immunization file names them)."""
    for entry in world_manifest["files"]:
        if entry["kind"] == "pms" and entry["layout"] == "canonical":
            location = next(x for x in stores.locations if x.ncpdp_id == entry["location"])
            job = pms_import_path(location=location, path=world_files / entry["path"])
            assert job.status == Job.Status.SUCCEEDED, job.message


@pytest.fixture
def world_csv(world_files: Path) -> Path:
    return world_files / "clinical" / "immunizations.csv"


@pytest.fixture
def loadable_csv(patients: None, world_csv: Path, tmp_path: Path) -> Path:
    """The world's doses given to patients the PMS exports name (the others are quarantined:
    see the first test)."""
    known = set(Patient.objects.values_list("location__ncpdp_id", "pms_patient_id"))
    rows = [r for r in _rows(world_csv) if (r["pharmacy_ncpdp"], r["patient_id"]) in known]
    return _write(tmp_path / "immunizations.csv", rows)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _write(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = COLUMNS) -> Path:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buf.getvalue())
    return path


def test_the_world_file_has_doses_to_import(world_csv: Path) -> None:
    assert len(_rows(world_csv)) > 5


def test_every_dose_of_the_file_loads_with_its_exact_values(
    stores: SimpleNamespace, patients: None, world_csv: Path
) -> None:
    job = immunization_import_path(organization=stores.org, path=world_csv)
    known = set(Patient.objects.values_list("location__ncpdp_id", "pms_patient_id"))
    lines = dict(enumerate(_rows(world_csv), start=2))  # line 1 is the header
    rows = [r for r in lines.values() if (r["pharmacy_ncpdp"], r["patient_id"]) in known]
    unknown = {n: r for n, r in lines.items() if r not in rows}
    assert len(rows) >= 5
    assert job.status == Job.Status.SUCCEEDED, job.message
    assert {k: job.counts[k] for k in immunization_import.COUNT_KEYS} == {
        "read": len(lines),
        "inserted": len(rows),
        "updated": 0,
        "unchanged": 0,
        "quarantined": len(unknown),
    }
    # the world gives some doses to patients with no fill in these two months: the PMS
    # exports do not name them, so their rows wait in quarantine
    assert sorted(QuarantinedRow.objects.filter(job=job).values_list("line", "field", "value")) == [
        (n, "patient_id", r["patient_id"]) for n, r in sorted(unknown.items())
    ]
    assert Immunization.objects.count() == len(rows)
    for row in rows:
        imm = Immunization.objects.select_related("patient", "location").get(
            location__ncpdp_id=row["pharmacy_ncpdp"],
            patient__pms_patient_id=row["patient_id"],
            cvx=row["cvx"],
            administered_on=date.fromisoformat(row["administered_on"]),
            lot=row["lot"],
        )
        assert imm.organization_id == stores.org.pk
        assert imm.mvx == row["mvx"]
        assert imm.vaccine == row["vaccine"]
        assert imm.expiration == date.fromisoformat(row["lot_expiration"])
        assert imm.dose_ml == Decimal(row["dose_ml"])
        assert imm.site == row["site"] in ("LD", "RD")
        assert imm.route == "C28161"  # IM, as the NCIT code the VXU sends
        assert imm.vis_edition_date == date.fromisoformat(row["vis_date"])
        assert imm.vis_given_on == imm.administered_on
        assert imm.administering_npi == row["pharmacist_npi"]
        assert imm.administered_by is None
        assert imm.recorded_by is None
        assert imm.funding_eligibility == "V01"
        dollars, cents = row["billed_amount"].split(".")
        assert imm.billed_cents == int(dollars) * 100 + int(cents)


def test_money_becomes_exact_cents(
    stores: SimpleNamespace, patients: None, loadable_csv: Path, tmp_path: Path
) -> None:
    rows = _rows(loadable_csv)[:3]
    rows[0]["billed_amount"], rows[1]["billed_amount"], rows[2]["billed_amount"] = (
        "40.00",
        "0.29",
        "215.1",
    )
    job = immunization_import_path(organization=stores.org, path=_write(tmp_path / "m.csv", rows))
    assert job.counts["inserted"] == 3
    got = sorted(Immunization.objects.values_list("billed_cents", flat=True))
    assert got == [29, 4000, 21510]


def test_reupload_of_the_same_file_changes_nothing_and_says_so(
    stores: SimpleNamespace, patients: None, loadable_csv: Path
) -> None:
    first = immunization_import_path(organization=stores.org, path=loadable_csv)
    before = sorted(Immunization.objects.values_list("pk", "billed_cents", "lot", "created_at"))
    again = immunization_import_path(organization=stores.org, path=loadable_csv)
    assert again.status == Job.Status.SUCCEEDED
    read = first.counts["read"]
    assert (again.counts["inserted"], again.counts["updated"]) == (0, 0)
    assert again.counts["unchanged"] == read
    assert f"Same file as job #{first.pk}: nothing changed" in again.message
    after = sorted(Immunization.objects.values_list("pk", "billed_cents", "lot", "created_at"))
    assert after == before


def test_a_corrected_row_updates_its_dose_and_nothing_else(
    stores: SimpleNamespace, patients: None, loadable_csv: Path, tmp_path: Path
) -> None:
    rows = _rows(loadable_csv)
    immunization_import_path(organization=stores.org, path=_write(tmp_path / "a.csv", rows))
    rows[0]["billed_amount"] = "199.99"
    job = immunization_import_path(organization=stores.org, path=_write(tmp_path / "b.csv", rows))
    assert job.counts["updated"] == 1
    assert job.counts["inserted"] == 0
    assert job.counts["unchanged"] == len(rows) - 1
    assert Immunization.objects.count() == len(rows)
    assert Immunization.objects.filter(billed_cents=19999, lot=rows[0]["lot"]).count() == 1


def test_bad_rows_are_quarantined_with_line_field_and_reason_and_the_rest_load(
    stores: SimpleNamespace, patients: None, loadable_csv: Path, tmp_path: Path, api_login: Any
) -> None:
    good = _rows(loadable_csv)[:4]
    expired = {**good[0], "lot": "EXP1", "lot_expiration": "2025-12-31"}
    mismatch = {**good[0], "lot": "MIS1", "cvx": "187", "mvx": "PFR"}
    unknown_patient = {**good[0], "lot": "UNK1", "patient_id": "99999999"}
    bad_date = {**good[0], "lot": "DAT1", "administered_on": "2026-13-01"}
    unknown_store = {**good[0], "lot": "STO1", "pharmacy_ncpdp": "9999999"}
    # file lines: header 1, good 2-3, bad 4-5, good 6, bad 7-8, good 9, bad 10
    rows = [good[0], good[1], expired, mismatch, good[2], unknown_patient, bad_date, good[3]]
    rows.append(unknown_store)
    path = _write(tmp_path / "with-bad-rows.csv", rows)
    job = immunization_import_path(organization=stores.org, path=path)
    assert job.status == Job.Status.SUCCEEDED, job.message
    assert job.counts["read"] == 9
    assert job.counts["inserted"] == 4
    assert job.counts["quarantined"] == 5
    assert "5 row(s) quarantined" in job.message
    assert Immunization.objects.count() == 4
    assert not Immunization.objects.filter(lot__in=["EXP1", "MIS1", "UNK1", "DAT1", "STO1"])
    quarantined = list(QuarantinedRow.objects.filter(job=job).values_list("line", "field", "value"))
    assert quarantined == [
        (4, "lot_expiration", "2025-12-31"),
        (5, "mvx", "PFR"),
        (7, "patient_id", "99999999"),
        (8, "administered_on", "2026-13-01"),
        (10, "pharmacy_ncpdp", "9999999"),
    ]
    body = api_login(stores.owner).get(f"/api/v1/imports/{job.pk}/errors/").json()
    reasons = {r["line"]: r["reason"] for r in body["results"]}
    assert "expired" in reasons[4]
    assert "MVX PFR makes no CVX 187" in reasons[5]
    assert "No patient with this id at store" in reasons[7]
    assert "is not a date" in reasons[8]
    assert "No store of this organization" in reasons[10]


def test_a_dose_twice_in_one_file_is_quarantined_the_second_time(
    stores: SimpleNamespace, patients: None, loadable_csv: Path, tmp_path: Path
) -> None:
    rows = _rows(loadable_csv)[:2]
    job = immunization_import_path(
        organization=stores.org, path=_write(tmp_path / "twice.csv", [*rows, rows[0]])
    )
    assert (job.counts["inserted"], job.counts["quarantined"]) == (2, 1)
    row = QuarantinedRow.objects.get(job=job)
    assert (row.line, row.field) == (4, "lot")
    assert "as line 2" in row.reason


def _without_lot(tmp_path: Path, world_csv: Path) -> Path:
    columns = tuple(c for c in COLUMNS if c != "lot")
    return _write(tmp_path / "no-lot.csv", _rows(world_csv), columns)


def _binary(tmp_path: Path, world_csv: Path) -> Path:
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    return path


def _latin1(tmp_path: Path, world_csv: Path) -> Path:
    path = tmp_path / "latin1.csv"
    path.write_bytes(world_csv.read_bytes().replace(b"Zoster", b"Z\xf6ster"))
    return path


def _header_only(tmp_path: Path, world_csv: Path) -> Path:
    path = tmp_path / "empty.csv"
    path.write_text(",".join(COLUMNS) + "\n")
    return path


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (_without_lot, "required column(s) missing: lot"),
        (_binary, "not a CSV file"),
        (_latin1, "is not UTF-8"),
        (_header_only, "no rows"),
    ],
)
def test_a_structurally_broken_file_is_rejected_whole(
    stores: SimpleNamespace,
    patients: None,
    world_csv: Path,
    tmp_path: Path,
    make: Any,
    problem: str,
) -> None:
    path = make(tmp_path, world_csv)
    job = immunization_import_path(organization=stores.org, path=path)
    assert job.status == Job.Status.FAILED
    assert job.message.startswith(f"{path.name} was rejected and nothing from it was loaded")
    assert problem in job.message
    assert not Immunization.objects.exists()
    assert not QuarantinedRow.objects.filter(job=job).exists()


def test_the_command_prints_the_summary(
    stores: SimpleNamespace, patients: None, loadable_csv: Path
) -> None:
    n = len(_rows(loadable_csv))
    out = StringIO()
    call_command("import_immunizations", str(loadable_csv), "--org", stores.org.slug, stdout=out)
    assert f"read {n}, inserted {n}, updated 0, unchanged 0, quarantined 0" in out.getvalue()
    out = StringIO()
    call_command("import_immunizations", str(loadable_csv), "--org", stores.org.slug, stdout=out)
    assert f"read {n}, inserted 0, updated 0, unchanged {n}" in out.getvalue()
    assert "nothing changed" in out.getvalue()


def test_the_command_fails_on_a_rejected_file(
    stores: SimpleNamespace, world_csv: Path, tmp_path: Path
) -> None:
    path = _binary(tmp_path, world_csv)
    with pytest.raises(CommandError, match="not a CSV file"):
        call_command("import_immunizations", str(path), "--org", stores.org.slug, stdout=StringIO())


def _upload(client: Any, path: Path, org: str) -> Any:
    with path.open("rb") as fh:
        return client.post(
            "/api/v1/imports/", {"kind": "immunizations", "file": fh, "organization": org}
        )


def test_a_technician_cannot_upload_immunization_records(
    stores: SimpleNamespace, world_csv: Path, api_login: Any
) -> None:
    response = _upload(api_login(stores.technician_0), world_csv, stores.org.slug)
    assert response.status_code == 403
    assert not Job.objects.filter(kind="immunizations").exists()


def test_an_owner_or_an_organization_wide_pharmacist_can_upload(
    stores: SimpleNamespace, world_csv: Path, api_login: Any
) -> None:
    pharmacist = member(organization=stores.org, role=Role.PHARMACIST)
    for user in (stores.owner, pharmacist):
        response = _upload(api_login(user), world_csv, stores.org.slug)
        assert response.status_code == 202, response.content
        assert response.json()["kind"] == "immunizations"


def test_a_token_needs_the_clinical_write_scope(
    stores: SimpleNamespace, world_csv: Path, api_login: Any
) -> None:
    claims_only = api_token_create(organization=stores.org, name="PMS", scopes=["claims:write"])
    response = _upload(api_login(token=claims_only.key), world_csv, stores.org.slug)
    assert response.status_code == 403
    assert "clinical:write" in response.json()["detail"]
    clinical = api_token_create(organization=stores.org, name="EHR", scopes=["clinical:write"])
    accepted = _upload(api_login(token=clinical.key), world_csv, stores.org.slug)
    assert accepted.status_code == 202, accepted.content
    assert accepted.json()["kind"] == "immunizations"


def test_a_worker_that_crashes_mid_file_finishes_the_job_correctly_on_retry(
    stores: SimpleNamespace, patients: None, loadable_csv: Path
) -> None:
    with loadable_csv.open("rb") as fh:
        job = immunization_import_create(
            organization=stores.org, stream=fh, original_name=loadable_csv.name, enqueue=False
        )
    real = immunization_import._quarantine
    with (
        mock.patch.object(
            immunization_import, "_quarantine", side_effect=OperationalError("worker lost")
        ),
        pytest.raises(OperationalError),
    ):
        job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING  # left for the retry
    assert not Immunization.objects.exists()  # the half-done file was rolled back
    with mock.patch.object(immunization_import, "_quarantine", side_effect=real):
        job_execute(job_id=job.pk)
    job.refresh_from_db()
    n = len(_rows(loadable_csv))
    assert job.status == Job.Status.SUCCEEDED
    assert (job.counts["inserted"], job.counts["read"], job.attempts) == (n, n, 2)
    assert Immunization.objects.count() == n


def test_the_row_checks_need_no_database() -> None:
    row = dict.fromkeys(COLUMNS, "")
    row.update(
        pharmacy_ncpdp="4410001",
        patient_id="P1",
        administered_on="2026-02-01",
        cvx="033",  # leading zero as some PMS exports write it
        mvx="msd",
        lot="L1",
        lot_expiration="2026-06-30",
        dose_ml="0.5",
        site="rd",
        route="IM",
        vis_date="2024-01-01",
        funding_eligibility="v01",
        billed_amount="40.00",
    )
    dose, problems = check_row(2, row, today=date(2026, 2, 28))
    assert problems == []
    assert dose is not None
    assert (dose.site, dose.route, dose.funding_eligibility) == ("RD", "C28161", "V01")
    assert (dose.cvx, dose.mvx, dose.billed_cents) == ("33", "MSD", 4000)
    # a lot is good through its expiration date
    assert check_row(2, {**row, "lot_expiration": "2026-02-01"})[1] == []
    for field, value in [
        ("billed_amount", "40.001"),
        ("billed_amount", "1e3"),
        ("dose_ml", "0.555"),
        ("dose_ml", "NaN"),
        ("site", "XX"),
        ("route", "ZZ"),
        ("pharmacist_npi", "12345"),
        ("administered_on", "2026-03-01"),  # after `today`
    ]:
        _, problems = check_row(2, {**row, field: value}, today=date(2026, 2, 28))
        assert [p.column for p in problems] == [field], (field, value, problems)
