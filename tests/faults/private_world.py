"""Run in a child process whose DATABASE_URL names a private Postgres cluster (the fault tests
restart it; the test process itself stays on the shared test database):

    python -m tests.faults.private_world reconciliation <world dir>
        the small world's stores, PMS exports and 835s loaded through the importers, one
        uninterrupted full reconciliation run (the control) and its derived rows' digest; then
        those rows deleted and a full run of the same date created, not sent. Prints JSON:
        {"job": id, "expected": digest, "counts": the control's counts}.

    python -m tests.faults.private_world digest
        the digest of the derived rows as they stand. Prints JSON.

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


def main(argv: list[str]) -> None:
    import django

    django.setup()
    if argv[0] == "reconciliation":
        answer = reconciliation(Path(argv[1]))
    elif argv[0] == "digest":
        answer = derived_digest()
    else:
        raise SystemExit(f"unknown command {argv[0]!r}")
    print(json.dumps(answer))


if __name__ == "__main__":
    main(sys.argv[1:])
