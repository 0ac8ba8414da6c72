"""The demo organization: the synthetic chain of `demo.world`, with one user per role.

Everything here is invented. The chain, its stores and its patients come from the same
seeded world that `demo_data` writes as files, so a later import of those files updates the
rows created here instead of adding new ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from django.db import transaction

from claims.models import Patient
from demo.world.build import build_world
from demo.world.model import World
from demo.world.writers import clear_world, write_world
from rxrevops.models import Location, Organization, Role
from rxrevops.services.tenancy import location_upsert, organization_upsert, user_upsert_with_role

DEMO_SLUG = "demo"
DEMO_DOMAIN = "demo.rxrevops"


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str
    scope: str


@dataclass(frozen=True)
class DemoResult:
    logins: list[DemoLogin]
    world: World
    files: Path
    file_count: int


def demo_seed(*, password: str, seed: int, scale: str, as_of: date, files_dir: Path) -> DemoResult:
    """Create or refresh the demo chain from the seeded world; write the world's files to
    `files_dir` for users to import. Running it twice leaves the same state."""
    world = build_world(seed=seed, scale=scale, year=as_of.year, as_of=as_of)
    clear_world(files_dir)
    manifest = write_world(world, files_dir)
    with transaction.atomic():
        org = organization_upsert(slug=DEMO_SLUG, name=world.organization)
        locations = [
            location_upsert(
                organization=org,
                ncpdp_id=loc.ncpdp,
                npi=loc.npi,
                name=loc.name,
                address_line=loc.street,
                city=loc.city,
                state=loc.state,
                postal_code=loc.zip,
            )
            for loc in world.locations
        ]
        logins = _demo_users(org=org, locations=locations, password=password)
        _demo_patients(world=world, locations={loc.ncpdp_id: loc for loc in locations})
    return DemoResult(
        logins=logins, world=world, files=files_dir, file_count=len(manifest["files"])
    )


def _demo_users(*, org: Organization, locations: list[Location], password: str) -> list[DemoLogin]:
    plan = [
        ("owner", Role.OWNER, None),
        ("revenue", Role.REVENUE, None),
        ("pharmacist", Role.PHARMACIST, [locations[0]]),
        ("technician", Role.TECHNICIAN, [locations[0]]),
    ]
    logins = []
    for local, role, scoped in plan:
        email = f"{local}@{DEMO_DOMAIN}"
        user_upsert_with_role(
            email=email, password=password, organization=org, role=role, locations=scoped
        )
        where = ", ".join(loc.name for loc in scoped) if scoped else "all locations"
        logins.append(DemoLogin(email=email, role=Role(role).label, scope=where))
    return logins


def _demo_patients(*, world: World, locations: dict[str, Location]) -> None:
    """Patients straight from the world, keyed like the PMS import will key them
    (store, PMS patient id). Replaced by the PMS import once it exists."""
    existing = {
        (p.location_id, p.pms_patient_id): p
        for p in Patient.objects.filter(location__in=locations.values())
    }
    new, changed = [], []
    for wp in world.patients:
        loc = locations[wp.location]
        fields = {
            "first_name": wp.first_name,
            "last_name": wp.last_name,
            "date_of_birth": wp.dob,
            "phone": wp.phone,
        }
        row = existing.get((loc.pk, wp.pms_id))
        if row is None:
            new.append(Patient(location=loc, pms_patient_id=wp.pms_id, **fields))
        elif any(getattr(row, k) != v for k, v in fields.items()):
            for k, v in fields.items():
                setattr(row, k, v)
            changed.append(row)
    Patient.objects.bulk_create(new, batch_size=1000)
    Patient.objects.bulk_update(
        changed, ["first_name", "last_name", "date_of_birth", "phone"], batch_size=1000
    )
