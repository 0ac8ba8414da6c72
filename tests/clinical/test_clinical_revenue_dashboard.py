"""Clinical billing flows into the owner's chain overview: the tiles and the per-store
columns equal the clinical claims summed straight from the table."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from clinical.services.billing import clinical_claim_update, poc_test_record
from rxrevops.templatetags.money import cents

pytestmark = pytest.mark.django_db


def test_the_chain_overview_shows_clinical_revenue_billed_and_paid_per_store(
    chain: SimpleNamespace, login: Any
) -> None:
    today = timezone.localdate()  # the dashboards' "today" (the default range ends on it)
    a = poc_test_record(
        user=chain.owner, patient=chain.patient_a, kind="a1c", performed_on=today, result="6.9%"
    )
    poc_test_record(
        user=chain.owner, patient=chain.patient_b, kind="covid", performed_on=today, result="Neg"
    )
    void = poc_test_record(
        user=chain.owner, patient=chain.patient_b, kind="strep", performed_on=today, result="Pos"
    )
    clinical_claim_update(user=chain.owner, claim=a.claim, status="paid", paid_cents=1999)
    clinical_claim_update(user=chain.owner, claim=void.claim, status="void")

    with connection.cursor() as cur:
        cur.execute(
            "SELECT location_id, sum(billed_cents), sum(paid_cents) FROM clinical_clinicalclaim"
            " WHERE status <> 'void' AND service_date >= %s GROUP BY location_id",
            [today.replace(month=1, day=1)],
        )
        per_store = {loc: (int(b), int(p)) for loc, b, p in cur.fetchall()}
    assert per_store[chain.loc_a.pk] == (2500, 1999)
    assert per_store[chain.loc_b.pk] == (4100, 0)

    html = login(chain.owner).get(reverse("dashboards:index")).content.decode()
    billed = sum(b for b, _ in per_store.values())
    paid = sum(p for _, p in per_store.values())
    assert f'data-testid="tile-clinical-value">{cents(billed)}<' in html
    assert 'href="/clinical/revenue/" data-testid="tile-clinical"' in html
    # each store's row: billed and paid in the period
    assert f'data-testid="store-clinical-{chain.loc_b.pk}">{cents(4100)} / {cents(0)}<' in html
    assert f'data-testid="store-clinical-{chain.loc_a.pk}">{cents(2500)} / {cents(1999)}<' in html
    assert paid == 1999
