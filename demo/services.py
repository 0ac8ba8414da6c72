"""The demo organization: a small synthetic chain with one user per role.

Everything here is invented. Names come from short fixed lists and a seeded generator, so two
runs with the same seed produce the same chain, and a second run updates instead of adding.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction

from claims.models import Patient
from rxrevops.models import Location, Organization, Role
from rxrevops.services.tenancy import location_upsert, organization_upsert, user_upsert_with_role

DEMO_SLUG = "demo"
DEMO_DOMAIN = "demo.rxrevops"

# (NCPDP, NPI, name, street, city, state, zip) — made-up identifiers in valid shapes
DEMO_LOCATIONS = [
    (
        "4410001",
        "1234567893",
        "Prairie Pharmacy — Main Street",
        "120 Main St",
        "Ames",
        "IA",
        "50010",
    ),
    (
        "4410002",
        "1245319599",
        "Prairie Pharmacy — Northgate",
        "88 Northgate Blvd",
        "Ankeny",
        "IA",
        "50023",
    ),
    ("4410003", "1376541235", "Prairie Pharmacy — Riverside", "5 River Rd", "Boone", "IA", "50036"),
]

FIRST_NAMES = [
    "Avery",
    "Jordan",
    "Morgan",
    "Casey",
    "Riley",
    "Quinn",
    "Harper",
    "Rowan",
    "Emerson",
    "Finley",
    "Hayden",
    "Kendall",
    "Logan",
    "Parker",
    "Reese",
    "Sawyer",
    "Taylor",
    "Blake",
]
LAST_NAMES = [
    "Okafor",
    "Lindqvist",
    "Haverford",
    "Marchetti",
    "Delacroix",
    "Nakagawa",
    "Brennan",
    "Vasquez-Hale",
    "Thorne",
    "Abernathy",
    "Kowalczyk",
    "Fairbanks",
    "Winslow",
    "Castellan",
]


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str
    scope: str


def demo_seed(*, password: str, seed: int = 7, patients_per_location: int = 40) -> list[DemoLogin]:
    """Create or refresh the demo chain and its users; returns the logins to print."""
    with transaction.atomic():
        org = organization_upsert(slug=DEMO_SLUG, name="Prairie Pharmacy Group")
        locations = [
            location_upsert(
                organization=org,
                ncpdp_id=ncpdp,
                npi=npi,
                name=name,
                address_line=street,
                city=city,
                state=state,
                postal_code=zipcode,
            )
            for ncpdp, npi, name, street, city, state, zipcode in DEMO_LOCATIONS
        ]
        logins = _demo_users(org=org, locations=locations, password=password)
        _demo_patients(locations=locations, seed=seed, per_location=patients_per_location)
    return logins


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


def _demo_patients(*, locations: list[Location], seed: int, per_location: int) -> None:
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    for location in locations:
        for n in range(1, per_location + 1):
            dob = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 60))
            Patient.objects.update_or_create(
                location=location,
                pms_patient_id=f"P{location.ncpdp_id[-3:]}{n:05d}",
                defaults={
                    "first_name": rng.choice(FIRST_NAMES),
                    "last_name": rng.choice(LAST_NAMES),
                    "date_of_birth": dob,
                    "phone": f"555-01{rng.randrange(0, 100):02d}",
                },
            )
