"""Loading the small synthetic world's PMS exports and 835s, for reconciliation tests."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from claims.services.pms_import import pms_import_path
from reconciliation.services.remit_import import remit_import_path
from rxrevops.models import Job

AS_OF = date(2026, 2, 28)  # the world fixture's last day


def load_world(stores: SimpleNamespace, root: Path, manifest: dict[str, Any]) -> None:
    """Every store's canonical PMS export and every 835 of the world, through the importers."""
    by_ncpdp = {loc.ncpdp_id: loc for loc in stores.locations}
    for e in sorted(manifest["files"], key=lambda e: (e["kind"], e["path"])):
        if e["kind"] == "pms" and e["layout"] == "canonical":
            job = pms_import_path(location=by_ncpdp[e["location"]], path=root / e["path"])
        elif e["kind"] == "remit_835":
            job = remit_import_path(organization=stores.org, path=root / e["path"])
        else:
            continue
        assert job.status == Job.Status.SUCCEEDED, job.message
