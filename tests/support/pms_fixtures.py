from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from demo.world.build import build_world
from demo.world.writers import write_world
from rxrevops.models import Role
from tests.factories import LocationFactory, OrganizationFactory, member


@pytest.fixture(scope="session")
def world_files(tmp_path_factory: Any) -> Path:
    """A two-month synthetic world written once per test session."""
    out = tmp_path_factory.mktemp("pms-world")
    write_world(build_world(seed=11, scale="small", year=2026, as_of=date(2026, 2, 28)), out)
    return out


@pytest.fixture
def world_manifest(world_files: Path) -> dict[str, Any]:
    return json.loads((world_files / "manifest.json").read_text())


@pytest.fixture
def stores(db: Any, world_manifest: dict[str, Any]) -> SimpleNamespace:
    """The world's three stores as locations of one organization, plus a user per store."""
    org = OrganizationFactory.create(slug="prairie")
    ncpdps = sorted({e["location"] for e in world_manifest["files"] if e["kind"] == "pms"})
    locs = [LocationFactory.create(organization=org, ncpdp_id=n) for n in ncpdps]
    return SimpleNamespace(
        org=org,
        locations=locs,
        owner=member(organization=org, role=Role.OWNER),
        technician_0=member(organization=org, role=Role.TECHNICIAN, locations=[locs[0]]),
        pharmacist_0=member(organization=org, role=Role.PHARMACIST, locations=[locs[0]]),
    )


def pms_file(
    manifest: dict[str, Any], root: Path, *, layout: str, location: str, period: str
) -> Path:
    entry = next(
        e
        for e in manifest["files"]
        if e["kind"] == "pms"
        and e["layout"] == layout
        and e["location"] == location
        and e["period"] == period
    )
    return root / entry["path"]
