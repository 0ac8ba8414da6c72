"""Staff metrics: each figure counts what its owner did in the period, in the stores the
viewer sees, and recovered dollars follow the claim's latest result."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.utils import timezone

from adherence.models import SyncEnrollment
from claims.models import Patient
from clinical.models import Immunization
from dashboards.staff import staff_metrics_for_user
from reconciliation.models import ClaimResult
from reconciliation.services.cases import case_update
from rxrevops.models import Role
from tests.factories import member

pytestmark = pytest.mark.django_db


def dose(world: SimpleNamespace, patient: Any, location: Any, by: Any, on: date) -> None:
    Immunization.objects.create(
        organization=world.org,
        location=location,
        patient=patient,
        administered_on=on,
        cvx="141",
        mvx="SKB",
        vaccine="Influenza, seasonal, injectable",
        lot="AB123",
        expiration=date(2027, 6, 30),
        dose_ml=Decimal("0.50"),
        site="LD",
        route="IM",
        vis_edition_date=date(2023, 8, 6),
        vis_given_on=on,
        administered_by=by,
        recorded_by=by,
    )


def test_staff_metrics_credit_who_did_the_work_in_the_period(
    margin_world: SimpleNamespace, login: Any
) -> None:
    loc_a, loc_b = margin_world.locations[0], margin_world.locations[1]
    tech = margin_world.technician_0
    pharmacist = margin_world.pharmacist_0
    revenue = member(
        organization=margin_world.org, role=Role.REVENUE, first_name="Rita", last_name="Rev"
    )
    today = timezone.localdate()
    # three different patients (a patient has many claims; without DISTINCT the first rows
    # may repeat one, in whatever order Postgres reads them)
    patients = list(
        ClaimResult.objects.filter(location=loc_a)
        .order_by("fill__patient")
        .values_list("fill__patient", flat=True)
        .distinct()[:3]
    )
    assert len(set(patients)) == 3
    for pk in patients[:2]:
        SyncEnrollment.objects.create(
            location=loc_a, patient_id=pk, first_sync_date=today, enrolled_by=tech
        )
    SyncEnrollment.objects.create(  # flagged in a PMS export: nobody's work
        location=loc_a, patient_id=patients[2], first_sync_date=today,
        source=SyncEnrollment.Source.PMS,
    )  # fmt: skip
    patient = Patient.objects.get(pk=patients[0])
    dose(margin_world, patient, loc_a, pharmacist, today)
    dose(margin_world, patient, loc_a, pharmacist, date(2025, 1, 2))  # before the period

    # two short-paid claims resolved by revenue staff; the payer then paid one in full
    short = list(
        ClaimResult.objects.filter(status="short_paid", location=loc_a).order_by("fill_id")[:2]
    )
    assert len(short) == 2, "the world has short-paid claims at store A"
    for r in short:
        case_update(user=revenue, fill_id=r.fill_id, status="in_progress")
        case_update(user=revenue, fill_id=r.fill_id, status="resolved", note="paid on appeal")
    paid = short[0]
    at_stake = paid.expected_cents - paid.remitted_cents - paid.dir_cents
    assert at_stake > 0
    ClaimResult.objects.filter(pk=paid.pk).update(  # as the next run finds the new payment
        remitted_cents=paid.expected_cents - paid.dir_cents
    )

    start, end = date(today.year, 1, 1), today
    report = staff_metrics_for_user(margin_world.owner, start=start, end=end)
    rows = {(r.location_id, r.name): r for r in report.rows}
    assert rows[(loc_a.pk, tech.get_full_name() or tech.username)].sync_enrollments == 2
    assert rows[(loc_a.pk, pharmacist.get_full_name() or pharmacist.username)].immunizations == 1
    rita = rows[(loc_a.pk, "Rita Rev")]
    assert (rita.resolved, rita.recovered_cents) == (2, at_stake)
    assert report.totals is not None
    assert report.totals.sync_enrollments == 2  # the PMS-flagged plan is nobody's
    assert {r.location_id for r in report.per_location} == {
        loc.pk for loc in margin_world.locations
    }

    # a store B owner sees none of store A's work, and cannot ask for store A
    owner_b = member(organization=margin_world.org, role=Role.OWNER, locations=[loc_b])
    theirs = staff_metrics_for_user(owner_b, start=start, end=end)
    assert theirs.rows == []
    client = login(owner_b)
    assert client.get(f"/dashboards/staff/?location={loc_a.pk}").status_code == 200
    assert "Rita Rev" not in client.get(f"/dashboards/staff/?location={loc_a.pk}").content.decode()
    # the owner's page shows the same rows
    html = login(margin_world.owner).get("/dashboards/staff/?period=ytd").content.decode()
    assert "Rita Rev" in html
