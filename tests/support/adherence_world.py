"""Fixture: a small chain with fills that put patients on every worklist, as of Nov 23, 2026.

Store A (the technician's): three med-sync patients with sync dates in the coming week, a
statin patient at risk, a lisinopril patient a week late, a diabetic with no statin (SUPD).
Store B: one med-sync patient and one at risk, for the isolation tests.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from adherence.models import SyncEnrollment
from adherence.services.build import worklists_build, worklists_build_now
from claims.models import Drug, Fill, Patient, Plan, Prescription
from rxrevops.models import Location
from tests.factories import PatientFactory

AS_OF = date(2026, 11, 23)
METFORMIN = ("68180033609", "Metformin HCl 500 mg tablet", "DR")
LISINOPRIL = ("68180051301", "Lisinopril 10 mg tablet", "RASA")
ATORVASTATIN = ("60505257909", "Atorvastatin calcium 20 mg tablet", "STA")
AMLODIPINE = ("68180072003", "Amlodipine besylate 5 mg tablet", "")

_rx_numbers = itertools.count(700000)


def drug(spec: tuple[str, str, str]) -> Drug:
    ndc, name, cls = spec
    obj, _ = Drug.objects.get_or_create(
        ndc=ndc, defaults={"name": name, "generic_name": name.split()[0], "adherence_class": cls}
    )
    return obj


def dispense(
    patient: Patient,
    spec: tuple[str, str, str],
    dates: Sequence[date],
    *,
    days: int = 30,
    plan: Plan | None = None,
    paid_cents: int = 1800,
    acquisition_cents: int = 600,
) -> Prescription:
    """One prescription with a paid 1-tablet-a-day fill on each date."""
    rx = Prescription.objects.create(
        location_id=patient.location_id,
        rx_number=next(_rx_numbers),
        patient=patient,
        drug=drug(spec),
    )
    for n, dos in enumerate(dates):
        Fill.objects.create(
            location_id=patient.location_id,
            rx_number=rx.rx_number,
            fill_number=n,
            date_of_service=dos,
            transaction_code="B1",
            transaction_date=dos,
            status=Fill.Status.PAID,
            prescription=rx,
            patient=patient,
            drug=rx.drug,
            plan=plan,
            quantity=Decimal(days),
            days_supply=days,
            usual_customary_cents=paid_cents + 500,
            ingredient_cost_paid_cents=paid_cents - 200,
            dispensing_fee_paid_cents=200,
            patient_pay_cents=0,
            total_paid_cents=paid_cents,
            acquisition_cost_cents=acquisition_cents,
            row_hash="0" * 32,
        )
    return rx


def every(start: date, days: int, until: date) -> list[date]:
    out, d = [], start
    while d <= until:
        out.append(d)
        d += timedelta(days=days)
    return out


def synced_patient(location: Location, *, sync_date: date, name: str) -> Patient:
    """On time for two maintenance meds; enrolled with `sync_date` as the next pickup."""
    p = PatientFactory.create(location=location, last_name=name, phone="555-0100")
    lis = dispense(p, LISINOPRIL, every(date(2026, 1, 2), 30, sync_date - timedelta(days=20)))
    dispense(p, AMLODIPINE, every(date(2026, 1, 9), 30, sync_date - timedelta(days=12)))
    SyncEnrollment.objects.create(
        location=location,
        patient=p,
        anchor=lis,
        first_sync_date=sync_date,
        cycle_days=30,
    )
    return p


@pytest.fixture
def worklist_chain(chain: SimpleNamespace) -> SimpleNamespace:
    """`chain` plus the patients above, with the worklists built as of AS_OF."""
    vb_plan = Plan.objects.create(bin="610999", pcn="VB", group="STAR", contract_type="value_based")
    a, b = chain.loc_a, chain.loc_b
    synced_a = [
        synced_patient(a, sync_date=AS_OF + timedelta(days=d), name=f"Syncwell{d}")
        for d in (5, 6, 7)
    ]
    synced_b = synced_patient(b, sync_date=AS_OF + timedelta(days=6), name="Syncbee")
    # statin every 30 days from Jan 5, then nothing since Sep 2: at risk under a VB plan
    at_risk = PatientFactory.create(location=a, last_name="Statinskip")
    dispense(at_risk, ATORVASTATIN, every(date(2026, 1, 5), 30, date(2026, 9, 2)), plan=vb_plan)
    # lisinopril every 30 days from Jan 13; the last fill, Oct 10, ran out Nov 9: 14 days late
    late = PatientFactory.create(location=a, last_name="Latefill")
    dispense(late, LISINOPRIL, every(date(2026, 1, 13), 30, date(2026, 10, 13)))
    # metformin, no statin, aged 60: SUPD gap
    supd = PatientFactory.create(location=a, last_name="Nostatin", date_of_birth=date(1966, 2, 1))
    dispense(supd, METFORMIN, every(date(2026, 1, 20), 30, date(2026, 11, 10)))
    at_risk_b = PatientFactory.create(location=b, last_name="Bstatin")
    dispense(at_risk_b, ATORVASTATIN, every(date(2026, 1, 5), 30, date(2026, 9, 2)))
    job = worklists_build_now(organization=chain.org, as_of=AS_OF)
    assert job.status == "succeeded", job.message
    counts = job.counts
    return SimpleNamespace(
        **vars(chain),
        as_of=AS_OF,
        synced_a=synced_a,
        synced_b=synced_b,
        at_risk=at_risk,
        late=late,
        supd=supd,
        at_risk_b=at_risk_b,
        vb_plan=vb_plan,
        counts=counts,
    )


def build(org: Any, as_of: date = AS_OF) -> dict[str, int]:
    return worklists_build(organization=org, as_of=as_of)
