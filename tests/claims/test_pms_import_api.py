"""Uploading PMS exports over the API and the page, on a real Celery worker; isolation
between stores; the quarantine download; a worker killed mid-file; racing uploads."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import transaction

from claims.models import Fill
from claims.services.pms_import import pms_import_create, pms_import_path
from rxrevops.models import Job
from rxrevops.services.jobs import job_enqueue
from rxrevops.services.tokens import api_token_create
from tests.conftest import WorkerProcess, wait_until
from tests.support.pms_fixtures import pms_file

JAN = "2026-01"


def _finished(pk: int) -> Job | None:
    job = Job.objects.get(pk=pk)
    return job if job.is_finished else None


def _jan(stores: SimpleNamespace, manifest: dict[str, Any], root: Path, store: int = 0) -> Path:
    return pms_file(
        manifest, root, layout="canonical", location=stores.locations[store].ncpdp_id, period=JAN
    )


@pytest.mark.integration
def test_upload_over_the_api_is_imported_by_the_worker(
    stores: SimpleNamespace,
    world_files: Path,
    world_manifest: dict[str, Any],
    transactional_db: Any,
    celery_worker: WorkerProcess,
    api_login: Any,
) -> None:
    issued = api_token_create(
        organization=stores.org, name="PMS", scopes=["claims:write", "jobs:read"]
    )
    client = api_login(token=issued.key)
    path = _jan(stores, world_manifest, world_files)
    with path.open("rb") as fh:
        response = client.post(
            "/api/v1/imports/",
            {"kind": "pms", "file": fh, "location": stores.locations[0].ncpdp_id},
        )
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    done = wait_until(lambda: _finished(job_id))
    assert done.status == Job.Status.SUCCEEDED
    body = client.get(f"/api/v1/imports/{job_id}/").json()
    c = body["counts"]
    assert c["read"] == c["inserted"] + c["updated"] + c["unchanged"] + c["quarantined"] > 100
    assert Fill.objects.filter(location=stores.locations[0]).count() == c["inserted"]


def test_token_for_one_store_cannot_upload_to_or_read_another_store(
    stores: SimpleNamespace,
    world_files: Path,
    world_manifest: dict[str, Any],
    api_login: Any,
) -> None:
    issued = api_token_create(
        organization=stores.org,
        name="Store 0",
        scopes=["claims:write", "jobs:read"],
        locations=[stores.locations[0]],
    )
    client = api_login(token=issued.key)
    other = stores.locations[1]
    with _jan(stores, world_manifest, world_files, 1).open("rb") as fh:
        response = client.post(
            "/api/v1/imports/", {"kind": "pms", "file": fh, "location": other.ncpdp_id}
        )
    assert response.status_code == 404
    foreign = pms_import_path(location=other, path=_jan(stores, world_manifest, world_files, 1))
    assert client.get(f"/api/v1/imports/{foreign.pk}/").status_code == 404
    assert client.get(f"/api/v1/imports/{foreign.pk}/errors/").status_code == 404


def test_location_scoped_user_gets_404_for_another_stores_import_page_and_quarantine(
    stores: SimpleNamespace,
    world_files: Path,
    world_manifest: dict[str, Any],
    login: Any,
) -> None:
    other = stores.locations[1]
    job = pms_import_path(location=other, path=_jan(stores, world_manifest, world_files, 1))
    client = login(stores.pharmacist_0)
    assert client.get(f"/jobs/{job.pk}/").status_code == 404
    assert client.get(f"/imports/{job.pk}/errors.csv").status_code == 404


def test_quarantined_rows_download_as_csv_with_formulas_neutralized(
    stores: SimpleNamespace,
    tmp_path: Path,
    world_files: Path,
    world_manifest: dict[str, Any],
    login: Any,
    api_login: Any,
) -> None:
    source = _jan(stores, world_manifest, world_files)
    rows = list(csv.reader(source.open(newline="")))
    header = rows[0]
    rows[3][header.index("ndc")] = "=HYPERLINK(1)"
    bad = tmp_path / "bad.csv"
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows[:10])
    bad.write_text(buf.getvalue())
    job = pms_import_path(location=stores.locations[0], path=bad)
    page = login(stores.owner).get(f"/imports/{job.pk}/errors.csv")
    assert page.status_code == 200
    lines = list(csv.reader(io.StringIO(page.content.decode())))
    assert lines[0] == ["line", "field", "value", "reason"]
    assert lines[1][:3] == ["4", "ndc", "'=HYPERLINK(1)"]
    api = api_login(stores.owner).get(f"/api/v1/imports/{job.pk}/errors/").json()
    assert api["results"][0]["value"] == "=HYPERLINK(1)"
    assert (
        api_login(stores.owner).get(f"/api/v1/imports/{job.pk}/errors/?download=csv").content
        == page.content
    )


def test_upload_page_stores_the_file_and_sends_you_to_the_job(
    stores: SimpleNamespace,
    world_files: Path,
    world_manifest: dict[str, Any],
    login: Any,
) -> None:
    client = login(stores.owner)
    with _jan(stores, world_manifest, world_files).open("rb") as fh:
        response = client.post(
            "/imports/", {"location": stores.locations[0].pk, "file": fh, "profile": ""}
        )
    assert response.status_code == 302
    job = Job.objects.get(kind="pms")
    assert response["Location"] == f"/jobs/{job.pk}/"
    assert job.params["sha256"]
    assert "Recent imports" in client.get("/imports/").content.decode()


def test_upload_page_refuses_an_empty_file(
    stores: SimpleNamespace, login: Any, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with empty.open("rb") as fh:
        response = login(stores.owner).post(
            "/imports/", {"location": stores.locations[0].pk, "file": fh}
        )
    assert response.status_code == 400
    assert not Job.objects.exists()


@pytest.mark.integration
def test_worker_killed_mid_file_finishes_on_retry_with_the_same_end_state(
    stores: SimpleNamespace,
    world_files: Path,
    world_manifest: dict[str, Any],
    transactional_db: Any,
    celery_worker: WorkerProcess,
) -> None:
    path = _jan(stores, world_manifest, world_files)
    control = pms_import_path(location=stores.locations[1], path=path)
    with transaction.atomic(), path.open("rb") as fh:
        job = pms_import_create(
            location=stores.locations[0], stream=fh, original_name=path.name, enqueue=False
        )
        job.kind = "test.pms_crash_mid_file"
        job.params["batch_rows"] = 100
        job.save(update_fields=["kind", "params"])
    job_enqueue(job=job)
    done = wait_until(lambda: _finished(job.pk), timeout=90)
    assert done.status == Job.Status.SUCCEEDED, done.message
    assert done.attempts == 2
    keys = ("read", "inserted", "updated", "unchanged", "quarantined")
    assert {k: done.counts[k] for k in keys} == {k: control.counts[k] for k in keys}

    def fills(loc: Any) -> list[tuple[Any, ...]]:
        return sorted(
            Fill.objects.filter(location=loc).values_list(
                "rx_number",
                "fill_number",
                "date_of_service",
                "transaction_code",
                "status",
                "total_paid_cents",
                "row_hash",
            )
        )

    assert fills(stores.locations[0]) == fills(stores.locations[1])


@pytest.mark.integration
def test_two_uploads_of_the_same_file_racing_do_the_work_once(
    stores: SimpleNamespace,
    world_files: Path,
    world_manifest: dict[str, Any],
    transactional_db: Any,
    celery_worker: WorkerProcess,
) -> None:
    path = _jan(stores, world_manifest, world_files)
    jobs = []
    for _ in range(2):
        with path.open("rb") as fh:
            jobs.append(
                pms_import_create(location=stores.locations[0], stream=fh, original_name=path.name)
            )
    done = [wait_until(lambda j=j: _finished(j.pk)) for j in jobs]
    assert all(j.status == Job.Status.SUCCEEDED for j in done)
    inserted = sorted(j.counts["inserted"] for j in done)
    unchanged = sorted(j.counts["unchanged"] for j in done)
    rows = done[0].counts["read"]
    assert inserted == [0, rows]
    assert unchanged == [0, rows]
    assert Fill.objects.filter(location=stores.locations[0]).count() == rows
