"""The demo_data and seed_demo commands."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from adherence.models import MeasureResult, WorklistItem
from claims.models import Fill, Patient
from clinical.models import ClinicalClaim, Encounter, Immunization, PointOfCareTest
from dashboards.models import MarginDaily
from reconciliation.models import Remittance
from rxrevops.access import location_ids_for_user
from rxrevops.models import Job, Location, Membership, Organization, Role


def test_demo_data_writes_the_world_and_reports_its_size(tmp_path: Path) -> None:
    out = StringIO()
    call_command("demo_data", "--out", str(tmp_path), "--as-of", "2026-03-31", stdout=out)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["as_of"] == "2026-03-31"
    assert f"{manifest['counts']['claims']:,}" in out.getvalue()
    assert all((tmp_path / e["path"]).exists() for e in manifest["files"])


def test_rewriting_a_world_leaves_no_files_of_the_old_one(tmp_path: Path) -> None:
    call_command("demo_data", "--out", str(tmp_path), "--as-of", "2026-06-30", stdout=StringIO())
    call_command("demo_data", "--out", str(tmp_path), "--as-of", "2026-02-28", stdout=StringIO())
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    on_disk = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
    assert on_disk == {e["path"] for e in manifest["files"]} | {"manifest.json"}


def test_demo_data_refuses_a_folder_that_holds_something_else(tmp_path: Path) -> None:
    (tmp_path / "thesis.docx").write_text("not ours")
    with pytest.raises(CommandError, match="not empty"):
        call_command("demo_data", "--out", str(tmp_path), stdout=StringIO())


def test_demo_data_explains_an_as_of_outside_the_year(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="outside 2026"):
        call_command(
            "demo_data", "--out", str(tmp_path), "--as-of", "2025-12-31", stdout=StringIO()
        )


def test_seed_demo_twice_leaves_the_same_state(db: Any, settings: Any, tmp_path: Path) -> None:
    settings.BASE_DIR = tmp_path
    args = ("seed_demo", "--as-of", "2026-04-30")
    call_command(*args, stdout=StringIO())
    first = (
        Organization.objects.count(),
        Location.objects.count(),
        Membership.objects.count(),
        sorted(Patient.objects.values_list("location__ncpdp_id", "pms_patient_id", "last_name")),
        Fill.objects.count(),
        Job.objects.count(),
        Remittance.objects.count(),
        Immunization.objects.count(),
        Encounter.objects.count(),
        ClinicalClaim.objects.count(),
    )
    out = StringIO()
    call_command(*args, stdout=out)
    again = (
        Organization.objects.count(),
        Location.objects.count(),
        Membership.objects.count(),
        sorted(Patient.objects.values_list("location__ncpdp_id", "pms_patient_id", "last_name")),
        Fill.objects.count(),
        Job.objects.count(),
        Remittance.objects.count(),
        Immunization.objects.count(),
        Encounter.objects.count(),
        ClinicalClaim.objects.count(),
    )
    assert first == again
    assert first[:3] == (1, 3, 4)
    assert len(first[3]) > 500
    assert first[4] > 5000  # the stores' exports went through the PMS importer
    files = tmp_path / "var" / "demo-world" / "small-7"
    manifest = json.loads((files / "manifest.json").read_text())
    assert manifest["as_of"] == "2026-04-30"
    remit_files = [e for e in manifest["files"] if e["kind"] == "remit_835"]
    inputs = [
        e for e in manifest["files"] if e["kind"] in ("fee_statement", "nadac", "acquisition")
    ]
    # one import job per store and month, one per 835 file, one per fee statement, NADAC and
    # invoice file, one for the immunization records, one reconciliation run, one margin
    # rollup refresh, one worklist build and one more after the demo's reviews are signed;
    # none added by the re-run
    assert first[5] == 12 + len(remit_files) + len(inputs) + 1 + 1 + 1 + 2
    assert MarginDaily.objects.exists()  # the owner dashboards have their figures
    assert Job.objects.get(kind="reconcile").counts["unmatched_payments"] == 0
    assert Encounter.objects.filter(status="signed").exists()  # the pharmacist's reviews
    assert Encounter.objects.filter(status="draft").count() == 1
    # every dose, test and signed review is billed
    signed_series = Encounter.objects.filter(status="signed").values("series").distinct().count()
    assert first[9] == first[7] + PointOfCareTest.objects.count() + signed_series
    assert first[7] > 0  # the world's immunization records went through their importer
    assert WorklistItem.objects.filter(kind="refill").exists()
    assert MeasureResult.objects.filter(measure="PDC-STA", status="measured").exists()
    assert first[6] == sum(e["transactions"] for e in remit_files) > 0  # every payment loaded
    assert "owner@demo.rxrevops" in out.getvalue()


def test_seed_demo_users_have_their_roles_and_stores(
    db: Any, settings: Any, tmp_path: Path
) -> None:
    settings.BASE_DIR = tmp_path
    call_command("seed_demo", "--as-of", "2026-02-15", stdout=StringIO())
    org = Organization.objects.get(slug="demo")
    roles = dict(Membership.objects.filter(organization=org).values_list("user__username", "role"))
    assert roles == {
        "owner@demo.rxrevops": Role.OWNER,
        "revenue@demo.rxrevops": Role.REVENUE,
        "pharmacist@demo.rxrevops": Role.PHARMACIST,
        "technician@demo.rxrevops": Role.TECHNICIAN,
    }
    technician = Membership.objects.get(user__username="technician@demo.rxrevops").user
    assert len(location_ids_for_user(technician)) == 1
