"""The four-month synthetic world, reconciled and rolled up, for the dashboard tests."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dashboards.services.rollups import rollups_refresh
from demo.world.catalog import PAYERS
from reconciliation.services.contracts import demo_payer_contracts_create
from reconciliation.services.runs import reconcile_now
from rxrevops.models import Job
from tests.support.pms_fixtures import stores, world_files, world_manifest
from tests.support.recon_world import fee_world, load_inputs, load_world

__all__ = ["fee_world", "margin_world", "stores", "world_files", "world_manifest"]

AS_OF = date(2026, 4, 30)  # the fee world's last day


@pytest.fixture
def margin_world(stores: SimpleNamespace, fee_world: Path) -> SimpleNamespace:
    """The world's stores with every PMS export, 835, fee statement, NADAC and invoice file
    loaded through the importers, the payers' contracts (value-based and fee-for-service),
    one reconciliation run as of the last day, and the rollups refreshed."""
    manifest: dict[str, Any] = json.loads((fee_world / "manifest.json").read_text())
    demo_payer_contracts_create(
        stores.org, [asdict(p) for p in PAYERS], effective_from=date(2026, 1, 1)
    )
    load_world(stores, fee_world, manifest)
    load_inputs(stores, fee_world, manifest)
    run = reconcile_now(organization=stores.org, as_of=AS_OF)
    assert run.status == Job.Status.SUCCEEDED, run.message
    rollups_refresh(organization=stores.org)
    return SimpleNamespace(**vars(stores), run=run, as_of=AS_OF, root=fee_world, manifest=manifest)
