"""Assemble a whole world from a seed: `build_world(seed=7, scale="small", year=2026)`."""

from __future__ import annotations

import random
from datetime import date

from demo.world import clinical
from demo.world.catalog import DRUGS, PAYERS
from demo.world.model import World
from demo.world.payments import settle
from demo.world.simulate import (
    SCALES,
    ClaimFactory,
    Prices,
    add_reversals,
    make_invoices,
    make_locations,
    make_nadac,
    make_patients,
    make_prescribers,
    simulate_patient,
    sorted_claims,
)

ORGANIZATION = "Prairie Pharmacy Group"


def build_world(*, seed: int, scale: str, year: int, as_of: date | None = None) -> World:
    """Simulate `year` up to `as_of` (default: December 31). Deterministic in its arguments."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}")
    as_of = as_of or date(year, 12, 31)
    if not date(year, 1, 1) <= as_of <= date(year, 12, 31):
        raise ValueError(f"as_of {as_of} is outside {year}")
    size = SCALES[scale]
    base = f"rxrevops-world-{seed}-{scale}-{year}"
    rng = random.Random(base)
    prices = Prices(rng, year)
    locations = make_locations(rng, size.locations)
    prescribers = make_prescribers(rng, 12 * size.locations)
    factory = ClaimFactory(rng, prices, prescribers)
    patients = []
    claims = []
    year_end = date(year, 12, 31)
    # The whole year is always simulated, each store and patient from a stream of its own,
    # then cut at as_of: the same chain and patients whatever the date, and a world as of
    # an earlier day is a prefix of a later one (so the demo re-seeds to the same state).
    for location in locations:
        store = make_patients(
            random.Random(f"{base}-{location.ncpdp}"), location, size.patients_per_location, year
        )
        for patient in store:
            patients.append(patient)
            claims.extend(
                simulate_patient(
                    random.Random(f"{base}-{location.ncpdp}-{patient.pms_id}"),
                    factory,
                    location,
                    patient,
                    year=year,
                    as_of=year_end,
                    acute_rate=size.acute_per_patient_year,
                )
            )
    by_loc = {loc.ncpdp: loc for loc in locations}
    by_patient = {(p.location, p.pms_id): p for p in patients}
    claims = sorted_claims(claims)
    claims = sorted_claims(add_reversals(rng, factory, claims, year_end, by_loc, by_patient))
    claims = [c for c in claims if c.transaction_date <= as_of]
    remittances, fees, truth = settle(base, claims, by_patient, year=year, as_of=as_of)
    pharmacists = clinical.pharmacist_npis(locations)
    return World(
        seed=seed,
        scale=scale,
        year=year,
        as_of=as_of,
        organization=ORGANIZATION,
        locations=locations,
        payers=list(PAYERS),
        drugs=list(DRUGS),
        prescribers=prescribers,
        patients=patients,
        claims=claims,
        remittances=remittances,
        fees=fees,
        nadac=make_nadac(prices, year),
        invoices=make_invoices(claims, by_loc, prices),
        immunizations=clinical.immunizations(base, patients, pharmacists, year=year, as_of=as_of),
        mtm=clinical.mtm_activity(base, patients, claims, pharmacists, year=year, as_of=as_of),
        truth=truth,
    )
