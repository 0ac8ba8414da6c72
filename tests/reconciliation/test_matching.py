"""The reconciliation engine's rules, hand-worked, without a database."""

from __future__ import annotations

from datetime import date

import pytest

from reconciliation.engine.matching import (
    Claim,
    Payment,
    ProviderAdjustment,
    parse_claim_ref,
    pro_rata,
    reconcile,
)

DOS = date(2026, 3, 2)
AS_OF = date(2026, 4, 30)


def claim(fill_id: int = 1, **kw: object) -> Claim:
    values: dict[str, object] = {
        "fill_id": fill_id,
        "location_id": 10,
        "rx_number": 2200057,
        "fill_number": 1,
        "date_of_service": DOS,
        "transaction_code": "B1",
        "reversed": False,
        "has_plan": True,
        "authorization": f"AUTH{fill_id}",
        "expected_cents": 1800,
        "due_on": date(2026, 4, 1),
    }
    values.update(kw)
    return Claim(**values)  # type: ignore[arg-type]


_ids = iter(range(1000, 100000))


def pay(paid: int, **kw: object) -> Payment:
    values: dict[str, object] = {
        "payment_id": next(_ids),
        "remittance_id": 500,
        "location_id": 10,
        "claim_ref": "2200057-01",
        "payer_claim_control": "",
        "status": "1",
        "paid_cents": paid,
        "service_date": DOS,
        "adjustments": (),
    }
    values.update(kw)
    return Payment(**values)  # type: ignore[arg-type]


def status_of(c: Claim, *payments: Payment, plb: tuple[ProviderAdjustment, ...] = ()) -> str:
    [result] = reconcile([c], list(payments), list(plb), as_of=AS_OF).results
    return result.status


@pytest.mark.parametrize(
    ("ref", "parsed"),
    [
        ("2200057-01", (2200057, 1)),
        ("2200057-1", (2200057, 1)),
        ("2200057/1", (2200057, 1)),
        ("2200057 01", (2200057, 1)),
        ("RX2200057-01", (2200057, 1)),
        ("rx 002200057", (2200057, None)),
        ("2200057", (2200057, None)),
        ("ABC-12", None),
        ("", None),
    ],
)
def test_clp01_formats_pharmacies_use_are_read(ref: str, parsed: object) -> None:
    assert parse_claim_ref(ref) == parsed


def test_a_payment_matches_by_authorization_before_rx_and_fill() -> None:
    c = claim(authorization="8142602000000090")
    p = pay(1800, claim_ref="garbage", payer_claim_control="8142602000000090")
    [r] = reconcile([c], [p], [], as_of=AS_OF).results
    assert (r.matched_by, r.status, r.remitted_cents) == ("authorization", "paid", 1800)


def test_a_bare_rx_number_matches_the_one_fill_of_that_day_and_ambiguity_stays_unmatched() -> None:
    one = reconcile([claim()], [pay(1800, claim_ref="2200057")], [], as_of=AS_OF)
    assert one.results[0].matched_by == "rx_fill_date"
    two = reconcile(
        [claim(1), claim(2, fill_number=2)], [pay(1800, claim_ref="2200057")], [], as_of=AS_OF
    )
    assert [u.reason for u in two.unmatched] == ["2 claims fit Rx 2200057 on 2026-03-02"]
    assert all(r.payments == 0 for r in two.results)


def test_a_payment_for_no_claim_is_kept_unmatched_with_the_reason() -> None:
    out = reconcile([claim()], [pay(990, claim_ref="9999999-00")], [], as_of=AS_OF)
    assert [u.reason for u in out.unmatched] == ["no claim for Rx 9999999 fill 0 on 2026-03-02"]


def test_a_remittance_without_a_store_searches_every_store() -> None:
    out = reconcile(
        [claim(1, location_id=10), claim(2, location_id=11, rx_number=555)],
        [pay(1800, location_id=None, claim_ref="555-01")],
        [],
        as_of=AS_OF,
    )
    assert {r.fill_id: r.payments for r in out.results} == {1: 0, 2: 1}


def test_statuses_of_a_paid_claim() -> None:
    assert status_of(claim(), pay(1800)) == "paid"
    # DIR withheld on the claim (CARC 295) is a fee, not a short-pay
    assert status_of(claim(), pay(1750, adjustments=(("CO", "295", 50),))) == "paid"
    assert status_of(claim(), pay(1700, adjustments=(("CO", "45", 100),))) == "short_paid"
    assert status_of(claim(), pay(1900)) == "overpaid"
    assert status_of(claim(), pay(1800), pay(1800)) == "overpaid"  # a duplicate payment
    assert status_of(claim(expected_cents=0), pay(0), pay(0)) == "overpaid"  # even of $0


def test_take_backs_make_a_claim_recouped() -> None:
    assert status_of(claim(), pay(1800), pay(-1800, status="22")) == "recouped"
    plb = ProviderAdjustment(1, 500, "WO", "AUTH1", 1800)
    out = reconcile([claim()], [pay(1800)], [plb], as_of=AS_OF)
    assert out.results[0].status == "recouped"
    assert out.results[0].recouped_cents == 1800
    assert out.results[0].variance_cents == 0


def test_reversed_claims() -> None:
    rev = claim(reversed=True)
    assert status_of(rev) == "reversed"
    assert status_of(rev, pay(1800), pay(-1800, status="22")) == "reversed"
    assert status_of(rev, pay(1800)) == "reversed_but_paid"
    assert status_of(rev, pay(1800), pay(1800)) == "overpaid"
    assert status_of(rev, pay(1800), pay(1800), pay(-1800, status="22")) == "reversed_but_paid"
    assert status_of(claim(transaction_code="B2", expected_cents=-1800)) == "reversal"
    assert status_of(claim(has_plan=False, reversed=True)) == "cash"


def test_an_unpaid_claim_is_pending_until_its_due_date_then_overdue() -> None:
    assert status_of(claim(due_on=AS_OF)) == "pending"
    assert status_of(claim(due_on=date(2026, 4, 29))) == "unpaid"


def test_plb_amounts_are_tied_allocated_or_carried_to_the_cent() -> None:
    claims = [claim(1), claim(2, rx_number=2, authorization="A2")]
    payments = [pay(1000, claim_ref="2200057-01"), pay(2000, claim_ref="2-01")]
    plb = [
        ProviderAdjustment(1, 500, "CS", "TXNFEE0302", 100),  # a fee: allocated pro rata
        ProviderAdjustment(2, 500, "FB", "BAL4410001", 555),  # carried to the next check
        ProviderAdjustment(3, 500, "WO", "A2", 300),  # tied to claim 2 by its reference
    ]
    out = reconcile(claims, payments, plb, as_of=AS_OF)
    placed = [(a.adjustment_id, a.fill_id, a.amount_cents, a.allocated) for a in out.allocations]
    assert placed == [(1, 1, 33, True), (1, 2, 67, True), (2, None, 555, False), (3, 2, 300, False)]
    assert sum(a.amount_cents for a in out.allocations) == 100 + 555 + 300


@pytest.mark.parametrize(
    ("amount", "weights", "split"),
    [
        (100, {1: 1, 2: 1, 3: 1}, {1: 34, 2: 33, 3: 33}),
        (-100, {1: 1, 2: 2}, {1: -33, 2: -67}),
        (1, {1: 5, 2: 5}, {1: 1}),
        (0, {1: 5}, {}),
    ],
)
def test_pro_rata_splits_exactly(amount: int, weights: dict[int, int], split: dict) -> None:
    assert pro_rata(amount, weights) == split
    assert sum(split.values()) == amount


def test_a_rebilled_claim_gets_the_payment_its_reversed_original_shares_a_key_with() -> None:
    original = claim(1, reversed=True, authorization="")
    rebill = claim(2, transaction_code="B3", authorization="")
    out = reconcile([original, rebill], [pay(1800)], [], as_of=AS_OF)
    assert {r.fill_id: r.payments for r in out.results} == {1: 0, 2: 1}
    assert out.unmatched == []


def test_a_plb_fee_tied_to_a_claim_is_a_fee_not_a_take_back() -> None:
    plb = ProviderAdjustment(1, 500, "CS", "AUTH1", 40)
    [r] = reconcile([claim()], [pay(1800)], [plb], as_of=AS_OF).results
    assert (r.status, r.recouped_cents, r.allocated_cents) == ("paid", 0, 40)
    assert "PLB CS" in r.reasons
