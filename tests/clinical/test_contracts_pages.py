"""The contract pages: who may open them, what each user sees, and the scorecard's parts."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinical.contract_selectors import contract_scorecard
from tests.clinical.test_contracts_scorecard import cmr_item, contract, contracts_world, put_on

__all__ = ["contracts_world"]

LIST = reverse("clinical:contracts")


def detail(c: Any) -> str:
    return reverse("clinical:contract_detail", args=[c.pk])


def test_the_owner_lists_every_contract_with_members_and_projection(
    contracts_world: SimpleNamespace, login: Any
) -> None:
    w = contracts_world
    page = login(w.owner).get(LIST)
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('data-testid="contract-row"') == 3
    for c in (w.broad, w.vb, w.star):
        assert detail(c) in html
    assert "$72.00" in html  # VB: 3 members x 12 months x $2.00
    assert "$1,500.00" in html  # Star: PDC-DR and PDC-STA met


def test_the_scorecard_shows_rates_gaps_and_movers_linked_to_the_patient_card(
    contracts_world: SimpleNamespace, login: Any
) -> None:
    w = contracts_world
    html = login(w.owner).get(detail(w.vb)).content.decode()
    assert 'data-measure="PDC-STA"' in html
    assert 'data-measure="IMM-FLU"' in html
    assert "width: 0.0%" in html  # PDC-STA 0 of 1 against an 80.00% mark
    assert "left: 80.00%" in html
    assert reverse("adherence:patient_card", args=[w.at_risk_b.pk]) in html
    assert reverse("adherence:patient_card", args=[w.late.pk]) in html
    assert "Closes the gap" in html


def test_a_store_pharmacist_sees_only_their_stores_patients(
    contracts_world: SimpleNamespace, login: Any
) -> None:
    w = contracts_world
    cmr_item(w.late)
    page = login(w.pharmacist_b).get(detail(w.vb))
    assert page.status_code == 200
    html = page.content.decode()
    assert w.at_risk_b.last_name in html
    assert w.late.last_name not in html
    assert reverse("adherence:patient_card", args=[w.late.pk]) not in html
    assert "more at stores you do not work at" in html


def test_another_organizations_contract_is_not_found(
    contracts_world: SimpleNamespace, other_chain: SimpleNamespace, login: Any
) -> None:
    theirs = contract(other_chain.org, "Theirs", measures=[("PDC-STA", "80", 1)])
    client = login(contracts_world.owner)
    assert client.get(detail(theirs)).status_code == 404
    assert client.get(reverse("clinical:contract_detail", args=[999_999])).status_code == 404
    listing = login(other_chain.owner).get(LIST).content.decode()
    assert detail(theirs) in listing
    assert detail(contracts_world.vb) not in listing


@pytest.mark.parametrize("who", ["technician_a", "revenue"])
def test_roles_outside_clinical_are_refused(
    contracts_world: SimpleNamespace, login: Any, who: str
) -> None:
    client = login(getattr(contracts_world, who))
    assert client.get(LIST).status_code == 403
    assert client.get(detail(contracts_world.vb)).status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(
    contracts_world: SimpleNamespace, client: Any
) -> None:
    page = client.get(detail(contracts_world.vb))
    assert page.status_code == 302
    assert reverse("login") in page["Location"]


def test_the_scorecard_reads_in_as_many_queries_for_more_patients(
    contracts_world: SimpleNamespace,
) -> None:
    w = contracts_world

    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            card = contract_scorecard(w.vb, w.owner)
        return len(ctx), len(card.movers)

    contract_scorecard(w.vb, w.owner)  # the principal's grants are cached after this
    before, movers_before = queries()
    for p in (*w.synced_a, w.at_risk, w.supd):
        put_on(p, w.other_plan)
        cmr_item(p)
    after, movers_after = queries()
    assert movers_after > movers_before
    assert after == before <= 15
