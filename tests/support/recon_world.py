"""Loading the small synthetic world's PMS exports and 835s, for reconciliation tests."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from claims.services.pms_import import pms_import_path
from demo.world.build import build_world
from demo.world.writers import write_world
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


@pytest.fixture(scope="session")
def fee_world(tmp_path_factory: Any) -> Path:
    """The test world (same seed and stores) run to the end of April: the statements for
    January and February claims have arrived by then."""
    out = tmp_path_factory.mktemp("fee-world")
    write_world(build_world(seed=11, scale="small", year=2026, as_of=date(2026, 4, 30)), out)
    return out


def load_inputs(stores: SimpleNamespace, root: Path, manifest: dict[str, Any]) -> None:
    """The world's fee statements, NADAC prices and acquisition invoices."""
    from reconciliation.services.cost_import import acquisition_import_path, nadac_import_path
    from reconciliation.services.fee_import import fee_import_path

    by_ncpdp = {loc.ncpdp_id: loc for loc in stores.locations}
    for e in sorted(manifest["files"], key=lambda e: e["path"]):
        if e["kind"] == "fee_statement":
            job = fee_import_path(organization=stores.org, path=root / e["path"])
        elif e["kind"] == "nadac":
            job = nadac_import_path(organization=stores.org, path=root / e["path"])
        elif e["kind"] == "acquisition":
            job = acquisition_import_path(location=by_ncpdp[e["location"]], path=root / e["path"])
        else:
            continue
        assert job.status == Job.Status.SUCCEEDED, job.message
