"""Loading 835s: the synthetic chain's remittances end to end, idempotency and corrected
re-sends, rejection of unreadable files, flagged files kept as sent, store isolation over
HTML and API, and an upload over the API picked up by the real worker."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Sum

from reconciliation.models import Adjustment, ClaimPayment, ProviderAdjustment, Remittance
from reconciliation.services.remit_import import remit_import_path
from rxrevops.models import Job
from rxrevops.services.tokens import api_token_create
from tests.conftest import WorkerProcess, wait_until

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "ingest" / "x12_835"


def _remit_entries(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(
        (e for e in manifest["files"] if e["kind"] == "remit_835"), key=lambda e: e["path"]
    )


def _table_counts() -> tuple[int, int, int, int]:
    return (
        Remittance.objects.count(),
        ClaimPayment.objects.count(),
        Adjustment.objects.count(),
        ProviderAdjustment.objects.count(),
    )


def test_every_synthetic_835_loads_balanced_and_is_filed_under_its_store(
    stores: SimpleNamespace, world_files: Path, world_manifest: dict[str, Any]
) -> None:
    entries = _remit_entries(world_manifest)
    styles = {e["delimiters"] for e in entries}
    assert {"standard", "newline", "control", "wrapped"} <= styles  # every delimiter style
    for entry in entries:
        job = remit_import_path(organization=stores.org, path=world_files / entry["path"])
        assert job.status == Job.Status.SUCCEEDED, job.message
        assert job.counts["claims"] == entry["claims"]
        assert job.counts["transactions"] == entry["transactions"]
        assert job.counts["flagged"] == 0
        loaded = Remittance.objects.filter(job=job)
        assert loaded.aggregate(s=Sum("paid_cents"))["s"] == entry["paid_cents"]
    assert not Remittance.objects.filter(balanced=False).exists()
    assert not Remittance.objects.filter(location__isnull=True).exists()
    ncpdps = set(Remittance.objects.values_list("location__ncpdp_id", flat=True))
    assert ncpdps == {loc.ncpdp_id for loc in stores.locations}
    # the payee on each payment is the store it was filed under
    for r in Remittance.objects.select_related("location")[:50]:
        assert r.location is not None
        assert r.payee_ncpdp == r.location.ncpdp_id
    total = sum(e["claims"] for e in entries)
    assert ClaimPayment.objects.count() == total
    reversals = ClaimPayment.objects.filter(status="22")
    assert reversals.exists()
    assert all((c.paid_cents or 0) <= 0 for c in reversals[:100])


def test_the_same_file_twice_changes_nothing_and_says_so(
    stores: SimpleNamespace, world_files: Path, world_manifest: dict[str, Any]
) -> None:
    entry = _remit_entries(world_manifest)[0]
    first = remit_import_path(organization=stores.org, path=world_files / entry["path"])
    before = _table_counts()
    again = remit_import_path(organization=stores.org, path=world_files / entry["path"])
    assert again.status == Job.Status.SUCCEEDED
    assert _table_counts() == before
    assert again.counts["duplicates"] == first.counts["transactions"] > 0
    assert again.counts["loaded"] == 0
    assert f"{first.counts['transactions']} already loaded (nothing changed)" in again.message


def test_a_corrected_resend_replaces_the_current_version_and_keeps_the_old_one(
    stores: SimpleNamespace, tmp_path: Path
) -> None:
    original = SAMPLES / "pyx12_mult-loops_zero-pay-denial-ts3.txt"
    first = remit_import_path(organization=stores.org, path=original)
    old = Remittance.objects.get(job=first)
    text = original.read_bytes()
    # the payer re-sends the same payment (same TRN) with one adjustment amount changed
    assert text.count(b"CAS*CO*") >= 1
    corrected = tmp_path / "corrected.835"
    corrected.write_bytes(text.replace(b"CAS*CO*", b"CAS*OA*", 1))
    second = remit_import_path(organization=stores.org, path=corrected)
    assert second.status == Job.Status.SUCCEEDED
    assert second.counts["corrected"] == 1
    new = Remittance.objects.get(job=second)
    old.refresh_from_db()
    assert old.superseded_by_id == new.pk
    assert new.superseded_by_id is None
    assert new.trace_number == old.trace_number
    current = Remittance.objects.filter(superseded_by__isnull=True, trace_number=old.trace_number)
    assert list(current) == [new]
    assert "corrected re-send" in second.message


def test_each_remittance_carries_the_sums_of_its_own_payment_and_plb_rows(
    stores: SimpleNamespace, world_files: Path, world_manifest: dict[str, Any]
) -> None:
    """Reconciliation's balance check reads what was paid from these totals (not from every
    payment row): they must be exactly the rows' sums, for synthetic and real files alike,
    flagged (unbalanced) payments included."""
    for entry in _remit_entries(world_manifest):
        remit_import_path(organization=stores.org, path=world_files / entry["path"])
    for sample in sorted(p for p in SAMPLES.iterdir() if p.suffix in (".txt", ".835", ".edi")):
        remit_import_path(organization=stores.org, path=sample)
    remits = Remittance.objects.all()
    assert remits.filter(balanced=False).exists()  # the real samples include flagged ones
    assert ProviderAdjustment.objects.exists()
    for remit in remits:
        paid = ClaimPayment.objects.filter(remittance=remit).aggregate(s=Sum("paid_cents"))["s"]
        plb = ProviderAdjustment.objects.filter(remittance=remit).aggregate(s=Sum("amount_cents"))[
            "s"
        ]
        assert remit.claim_paid_cents == (paid or 0), remit.pk
        assert remit.provider_adjustment_cents == (plb or 0), remit.pk


def test_an_unreadable_file_is_rejected_whole_with_where_and_why(
    stores: SimpleNamespace,
) -> None:
    truncated = SAMPLES / "oopfactory_example1_reversals-clp22-plb_bom-crlf-indented.txt"
    job = remit_import_path(organization=stores.org, path=truncated)
    assert job.status == Job.Status.FAILED
    assert "was rejected and nothing from it was loaded" in job.message
    assert _table_counts() == (0, 0, 0, 0)
    where = job.errors[0]
    assert where["where"].startswith("segment 98")
    assert where["severity"] == "fatal"


def test_a_file_that_does_not_balance_is_loaded_as_sent_and_flagged(
    stores: SimpleNamespace, login: Any
) -> None:
    sample = SAMPLES / "oopfactory_nebraska-medicaid-deident_3-isa_bom-indented.txt"
    job = remit_import_path(organization=stores.org, path=sample)
    assert job.status == Job.Status.SUCCEEDED
    flagged = Remittance.objects.filter(job=job, balanced=False)
    assert flagged.count() == job.counts["flagged"] == 3
    remit = flagged.first()
    assert remit is not None
    assert remit.location is None
    codes = {i["code"] for i in remit.issues}
    assert "payee-not-a-store" in codes
    assert any(i["severity"] == "error" for i in remit.issues)
    client = login(stores.owner)
    page = client.get(f"/reconciliation/remittances/{remit.pk}/").content.decode()
    assert "Flagged" in page
    assert "Problems in this payment" in page
    error = next(i for i in remit.issues if i["severity"] == "error")
    raw = client.get(f"/reconciliation/remittances/{remit.pk}/raw/").content.decode()
    assert f'id="s{error["segment"]}" class="flagged"' in raw


def test_remittance_page_spells_out_adjustment_and_plb_codes(
    stores: SimpleNamespace, login: Any
) -> None:
    sample = SAMPLES / "lfh_medicare-part-a_ts3-ts2-mia-moa-plb.835"
    job = remit_import_path(organization=stores.org, path=sample)
    remit = Remittance.objects.get(job=job)
    plb = remit.provider_adjustments.get()
    page = login(stores.owner).get(f"/reconciliation/remittances/{remit.pk}/").content.decode()
    assert plb.reason == "CV"
    assert "-$1.27" in page
    assert "Capital Passthru" in page  # PLB CV spelled out
    assert "Contractual Obligations" in page  # CAS group CO spelled out


def test_store_users_see_only_their_stores_remittances_over_html_and_api(
    stores: SimpleNamespace,
    world_files: Path,
    world_manifest: dict[str, Any],
    login: Any,
    api_login: Any,
) -> None:
    entry = _remit_entries(world_manifest)[0]
    remit_import_path(organization=stores.org, path=world_files / entry["path"])
    mine = Remittance.objects.filter(location=stores.locations[0]).first()
    other = Remittance.objects.exclude(location=stores.locations[0]).first()
    assert mine is not None
    assert other is not None
    # a revenue user scoped to store 0 (a store-level token the same way)
    from rxrevops.models import Role
    from tests.factories import member

    revenue_0 = member(organization=stores.org, role=Role.REVENUE, locations=[stores.locations[0]])
    client = login(revenue_0)
    assert client.get(f"/reconciliation/remittances/{mine.pk}/").status_code == 200
    assert client.get(f"/reconciliation/remittances/{other.pk}/").status_code == 404
    assert client.get(f"/reconciliation/remittances/{other.pk}/raw/").status_code == 404
    listing = client.get("/reconciliation/").content.decode()
    assert f"/remittances/{mine.pk}/" in listing
    assert f"/remittances/{other.pk}/" not in listing
    issued = api_token_create(
        organization=stores.org,
        name="Store 0 remits",
        scopes=["remits:read"],
        locations=[stores.locations[0]],
    )
    api = api_login(token=issued.key)
    assert api.get(f"/api/v1/remittances/{mine.pk}/").status_code == 200
    assert api.get(f"/api/v1/remittances/{other.pk}/").status_code == 404
    ids = {r["id"] for r in api.get("/api/v1/remittances/").json()["results"]}
    assert mine.pk in ids
    assert other.pk not in ids
    # technicians have no remittance pages at all
    assert login(stores.technician_0).get("/reconciliation/").status_code == 403


def test_api_detail_gives_claims_lines_and_adjustments(
    stores: SimpleNamespace, api_login: Any
) -> None:
    sample = SAMPLES / "lfh_secondary-payment_multi-triplet-cas_composite-mismatch.835"
    job = remit_import_path(organization=stores.org, path=sample)
    remit = Remittance.objects.get(job=job)
    issued = api_token_create(organization=stores.org, name="read", scopes=["remits:read"])
    body = api_login(token=issued.key).get(f"/api/v1/remittances/{remit.pk}/").json()
    assert body["claim_count"] == len(body["claims"]) > 0
    triplets = [
        (a["group"], a["reason"], a["amount_cents"])
        for c in body["claims"]
        for a in c["adjustments"] + [x for s in c["services"] for x in s["adjustments"]]
    ]
    # CAS*PR*1*150.00**2*70.00: both triplets of the one segment are there
    assert ("PR", "1", 15000) in triplets
    assert ("PR", "2", 7000) in triplets
    assert any(s["services"] for s in body["claims"])  # lines read despite the '>' separator


def test_import_835_command_loads_several_files_and_fails_on_a_rejected_one(
    stores: SimpleNamespace, tmp_path: Path
) -> None:
    from io import StringIO

    good = [SAMPLES / "pyx12_mult-loops_zero-pay-denial-ts3.txt"]
    out = StringIO()
    call_command("import_835", *map(str, good), "--org", stores.org.slug, stdout=out)
    assert "payment(s) loaded" in out.getvalue()
    bad = tmp_path / "bad.835"
    shutil.copy(SAMPLES / "oopfactory_example1_reversals-clp22-plb_bom-crlf-indented.txt", bad)
    with pytest.raises(Exception, match=r"Rejected: bad\.835"):
        call_command("import_835", str(bad), "--org", stores.org.slug, stdout=StringIO())


@pytest.mark.integration
def test_upload_over_the_api_is_loaded_by_the_worker(
    stores: SimpleNamespace,
    world_files: Path,
    world_manifest: dict[str, Any],
    transactional_db: Any,
    celery_worker: WorkerProcess,
    api_login: Any,
) -> None:
    writer = api_token_create(
        organization=stores.org, name="clearinghouse", scopes=["remits:write", "jobs:read"]
    )
    entry = _remit_entries(world_manifest)[0]
    client = api_login(token=writer.key)
    with (world_files / entry["path"]).open("rb") as fh:
        response = client.post("/api/v1/imports/", {"kind": "x12_835", "file": fh})
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    done = wait_until(lambda: (j := Job.objects.get(pk=job_id)).is_finished and j)
    assert done.status == Job.Status.SUCCEEDED, done.message
    assert ClaimPayment.objects.count() == entry["claims"]
    # a token without remits:write cannot upload an 835, even with claims:write
    pms_only = api_token_create(organization=stores.org, name="pms", scopes=["claims:write"])
    with (world_files / entry["path"]).open("rb") as fh:
        refused = api_login(token=pms_only.key).post(
            "/api/v1/imports/", {"kind": "x12_835", "file": fh}
        )
    assert refused.status_code == 403


@pytest.mark.integration
def test_worker_killed_mid_file_loads_it_whole_on_retry(
    stores: SimpleNamespace,
    world_files: Path,
    world_manifest: dict[str, Any],
    transactional_db: Any,
    celery_worker: WorkerProcess,
) -> None:
    from django.db import transaction

    from reconciliation.services.remit_import import remit_import_create
    from rxrevops.services.jobs import job_enqueue

    entry = max(_remit_entries(world_manifest), key=lambda e: e["claims"])
    with transaction.atomic(), (world_files / entry["path"]).open("rb") as fh:
        job = remit_import_create(
            organization=stores.org, stream=fh, original_name="big.835", enqueue=False
        )
        job.kind = "test.x12_crash_mid_file"
        job.params["flush_rows"] = 50  # several COPY rounds, the first one then the kill
        job.save(update_fields=["kind", "params"])
    job_enqueue(job=job)
    done = wait_until(lambda: (j := Job.objects.get(pk=job.pk)).is_finished and j, timeout=90)
    assert done.status == Job.Status.SUCCEEDED, done.message
    assert done.attempts == 2
    assert done.counts["loaded"] == entry["transactions"]
    assert done.counts["duplicates"] == 0  # nothing of the killed attempt survived
    assert Remittance.objects.count() == entry["transactions"]
    assert ClaimPayment.objects.count() == entry["claims"]
    assert Remittance.objects.aggregate(s=Sum("paid_cents"))["s"] == entry["paid_cents"]
