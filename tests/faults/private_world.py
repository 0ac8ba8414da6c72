"""Run in a child process whose DATABASE_URL names a private Postgres cluster (the fault tests
restart it; the test process itself stays on the shared test database):

    python -m tests.faults.private_world reconciliation <world dir>
        the small world's stores, PMS exports and 835s loaded through the importers, one
        uninterrupted full reconciliation run (the control) and its derived rows' digest; then
        those rows deleted and a full run of the same date created, not sent. Prints JSON:
        {"job": id, "expected": digest, "counts": the control's counts}.

    python -m tests.faults.private_world digest
        the digest of the derived rows as they stand. Prints JSON.

    python -m tests.faults.private_world pms_import <world dir>
        two stores; 200 rows of one store's export with a bad NDC on line 97, imported into
        the second store in this process (the control), and the same import for the first
        store created, in batches of 40, not sent. Prints JSON: {"job": id, "location": id,
        "expected": the control store's fills and quarantine, "counts": the control's}.

    python -m tests.faults.private_world fills <location id> <job id>
        that store's fills and that job's quarantined rows, as `pms_import` reports them.

A digest is every derived row by content (ids, timestamps and the writing job left out),
hashed, with the row count per table so a failure says which table differs."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any


def derived_digest() -> dict[str, Any]:
    from django.db import models

    from reconciliation.models import ClaimResult, PaymentMatch, PlbAllocation, UnmatchedPayment

    out: dict[str, Any] = {}
    for model in (ClaimResult, PaymentMatch, UnmatchedPayment, PlbAllocation):
        names = [
            f.attname
            for f in model._meta.concrete_fields
            if not f.primary_key and not isinstance(f, models.DateTimeField) and f.name != "job"
        ]
        rows = sorted(repr(r) for r in model._default_manager.values_list(*names))
        out[model.__name__] = {
            "rows": len(rows),
            "sha256": hashlib.sha256("\n".join(rows).encode()).hexdigest(),
        }
    return out


def reconciliation(world: Path) -> dict[str, Any]:
    from reconciliation.models import ClaimResult, PaymentMatch, PlbAllocation, UnmatchedPayment
    from reconciliation.services.runs import JOB_KIND, reconcile_now
    from rxrevops.services.jobs import job_create
    from tests.factories import LocationFactory, OrganizationFactory
    from tests.support.recon_world import AS_OF, load_world

    manifest = json.loads((world / "manifest.json").read_text())
    org = OrganizationFactory.create(slug="prairie")
    ncpdps = sorted({e["location"] for e in manifest["files"] if e["kind"] == "pms"})
    locations = [LocationFactory.create(organization=org, ncpdp_id=n) for n in ncpdps]
    load_world(SimpleNamespace(org=org, locations=locations), world, manifest)
    control = reconcile_now(organization=org, as_of=AS_OF, full=True)
    assert control.status == "succeeded", control.message
    expected = derived_digest()
    assert expected["ClaimResult"]["rows"]  # a run that reconciled claims
    for model in (ClaimResult, PaymentMatch, UnmatchedPayment, PlbAllocation):
        model.objects.all().delete()
    job = job_create(
        organization=org,
        kind=JOB_KIND,
        params={"as_of": AS_OF.isoformat(), "full": True},
        enqueue=False,
    )
    return {"job": job.pk, "expected": expected, "counts": control.counts}


IMPORT_COUNTS = ("read", "inserted", "updated", "unchanged", "quarantined")


def fills(location_id: int, job_id: int) -> dict[str, Any]:
    from claims.models import Fill
    from rxrevops.models import QuarantinedRow

    rows = Fill.objects.filter(location_id=location_id).values_list(
        "rx_number",
        "fill_number",
        "date_of_service",
        "transaction_code",
        "status",
        "total_paid_cents",
        "row_hash",
    )
    quarantined = QuarantinedRow.objects.filter(job_id=job_id).values_list(
        "line", "field", "reason"
    )
    return {
        "fills": len(rows),
        "sha256": hashlib.sha256("\n".join(sorted(repr(r) for r in rows)).encode()).hexdigest(),
        "quarantined": sorted(list(q) for q in quarantined),
    }


def pms_import(world: Path) -> dict[str, Any]:
    import csv
    import io

    from claims.services.pms_import import pms_import_create
    from rxrevops.models import Job
    from rxrevops.services.jobs import job_execute
    from tests.factories import LocationFactory, OrganizationFactory
    from tests.support.pms_fixtures import pms_file

    manifest = json.loads((world / "manifest.json").read_text())
    org = OrganizationFactory.create(slug="prairie")
    store, control_store = (LocationFactory.create(organization=org) for _ in range(2))
    ncpdp = sorted({e["location"] for e in manifest["files"] if e["kind"] == "pms"})[0]
    source = pms_file(manifest, world, layout="canonical", location=ncpdp, period="2026-01")
    rows = list(csv.reader(source.open(newline="")))
    header, body = rows[0], rows[1:201]
    body[95][header.index("ndc")] = "12345"  # line 97, in the third batch
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *body])

    def create(location: Any) -> Job:
        job = pms_import_create(
            location=location,
            stream=io.BytesIO(buf.getvalue().encode()),
            original_name="export.csv",
            enqueue=False,
        )
        Job.objects.filter(pk=job.pk).update(params={**job.params, "batch_rows": 40})
        return job

    control = create(control_store)
    job_execute(job_id=control.pk)
    control.refresh_from_db()
    assert control.status == "succeeded", control.message
    job = create(store)
    return {
        "job": job.pk,
        "location": store.pk,
        "expected": fills(control_store.pk, control.pk),
        "counts": {
            k: control.counts[k]
            for k in ("read", "inserted", "updated", "unchanged", "quarantined")
        },
    }


def main(argv: list[str]) -> None:
    import django

    django.setup()
    if argv[0] == "reconciliation":
        answer = reconciliation(Path(argv[1]))
    elif argv[0] == "digest":
        answer = derived_digest()
    elif argv[0] == "pms_import":
        answer = pms_import(Path(argv[1]))
    elif argv[0] == "fills":
        answer = fills(int(argv[1]), int(argv[2]))
    else:
        raise SystemExit(f"unknown command {argv[0]!r}")
    print(json.dumps(answer))


if __name__ == "__main__":
    main(sys.argv[1:])
