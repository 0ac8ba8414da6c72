"""Clinical activity: who is MTM-eligible, a few completed CMRs, immunizations given."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from demo.world.catalog import DRUG_BY_NDC, VACCINES
from demo.world.model import Claim, Immunization, Location, MtmEncounter, Patient

PHARMACIST_NPI_BASE = "1598"


def pharmacist_npis(locations: list[Location]) -> dict[str, str]:
    from demo.world.simulate import npi_with_check_digit

    return {
        loc.ncpdp: npi_with_check_digit(f"{PHARMACIST_NPI_BASE}{int(loc.ncpdp) % 100000:05d}")
        for loc in locations
    }


def immunizations(
    seed: str,
    patients: list[Patient],
    pharmacists: dict[str, str],
    *,
    year: int,
    as_of: date,
) -> list[Immunization]:
    given = []
    for p in patients:
        rng = random.Random(f"{seed}-vaccines-{p.location}-{p.pms_id}")
        age = year - p.dob.year
        plan: list[tuple[int, date]] = []
        if rng.random() < 0.35:  # flu season, September to November
            plan.append((0, date(year, 9, 1) + timedelta(days=rng.randrange(90))))
        if rng.random() < 0.12:
            plan.append((1, date(year, 9, 15) + timedelta(days=rng.randrange(75))))
        if age >= 50 and rng.random() < 0.06:
            plan.append((2, date(year, 1, 1) + timedelta(days=rng.randrange(330))))
        if age >= 65 and rng.random() < 0.05:
            plan.append((3, date(year, 1, 1) + timedelta(days=rng.randrange(330))))
        for idx, when in plan:
            if when > as_of:
                continue
            cvx, mvx, name, dose, route, site, vis, billed = VACCINES[idx]
            given.append(
                Immunization(
                    location=p.location,
                    patient_id=p.pms_id,
                    administered=when,
                    cvx=cvx,
                    mvx=mvx,
                    vaccine=name,
                    lot=f"{mvx[0]}{rng.randrange(100000, 999999)}",
                    expiration=date(year + 1, rng.randint(1, 12), 1),
                    dose_ml=Decimal(dose),
                    site=site,
                    route=route,
                    vis_date=date.fromisoformat(vis),
                    pharmacist_npi=pharmacists[p.location],
                    funding="V01",  # not VFC eligible
                    billed_cents=billed,
                )
            )
    given.sort(key=lambda i: (i.location, i.administered, i.patient_id, i.cvx))
    return given


def mtm_activity(
    seed: str,
    patients: list[Patient],
    fills: list[Claim],
    pharmacists: dict[str, str],
    *,
    year: int,
    as_of: date,
) -> list[MtmEncounter]:
    """Part D patients with 3+ chronic drugs are flagged eligible; about one in five of them
    had a CMR (CPT 99605 new patient, first 15 minutes, + 99607 per extra 15)."""
    chronic: dict[tuple[str, str], set[str]] = {}
    for f in fills:
        if DRUG_BY_NDC[f.ndc].chronic:
            chronic.setdefault((f.location, f.patient_id), set()).add(DRUG_BY_NDC[f.ndc].ingredient)
    out = []
    for p in patients:
        drugs = chronic.get((p.location, p.pms_id), set())
        if p.payer != "meridian_d" or len(drugs) < 3:
            continue
        rng = random.Random(f"{seed}-mtm-{p.location}-{p.pms_id}")
        since = date(year, 1, 1) + timedelta(days=rng.randrange(60))
        out.append(
            MtmEncounter(p.location, p.pms_id, "eligible", since, 0, pharmacists[p.location], "", 0)
        )
        if rng.random() < 0.2:
            when = since + timedelta(days=rng.randrange(30, 200))
            minutes = rng.choice((20, 25, 30, 35, 40, 45))
            if when <= as_of:
                out.append(
                    MtmEncounter(
                        p.location,
                        p.pms_id,
                        "cmr",
                        when,
                        minutes,
                        pharmacists[p.location],
                        "99605",
                        7500,
                    )
                )
                for _ in range((minutes - 15) // 15):
                    out.append(
                        MtmEncounter(
                            p.location,
                            p.pms_id,
                            "cmr",
                            when,
                            0,
                            pharmacists[p.location],
                            "99607",
                            3500,
                        )
                    )
    out.sort(key=lambda e: (e.location, e.when, e.patient_id, e.kind, e.cpt))
    return out
