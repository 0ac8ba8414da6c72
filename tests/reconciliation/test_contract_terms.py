"""The payer contract core (reconciliation.engine.contracts): no database."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from reconciliation.engine.contracts import (
    AWP_MINUS,
    MAC,
    NADAC_PLUS,
    TRUST,
    WAC_PLUS,
    ClaimFacts,
    ContractTerms,
    FeeTerms,
    PaymentTerms,
    PlanKey,
    Reimbursement,
    UnitPrices,
    age_bucket,
    aging,
    contract_for,
    due_date,
    estimated_fees_cents,
    expected_reimbursement,
    expected_reimbursement_cents,
    fee_estimate,
    fees_in_words,
    is_overdue,
    periods_overlap,
    reimbursement_in_words,
    same_key,
    specificity,
)

DOS = date(2026, 3, 2)


def claim(**kw: object) -> ClaimFacts:
    values: dict[str, object] = {
        "date_of_service": DOS,
        "is_brand": False,
        "quantity": D("30"),
        "ingredient_cost_paid_cents": 1234,
        "dispensing_fee_paid_cents": 75,
        "patient_pay_cents": 500,
        "total_paid_cents": 809,
        "usual_customary_cents": 0,
    }
    values.update(kw)
    return ClaimFacts(**values)  # type: ignore[arg-type]


def terms(
    *,
    brand: Reimbursement | None = None,
    generic: Reimbursement | None = None,
    fees: FeeTerms | None = None,
    lesser_of_usual: bool = True,
    **kw: object,
) -> ContractTerms:
    values: dict[str, object] = {
        "contract_id": 1,
        "bin": "610442",
        "pcn": "*",
        "group": "*",
        "effective_from": date(2026, 1, 1),
    }
    values.update(kw)
    return ContractTerms(
        brand=brand or Reimbursement(),
        generic=generic or Reimbursement(),
        fees=fees or FeeTerms(),
        lesser_of_usual=lesser_of_usual,
        **values,  # type: ignore[arg-type]
    )


# -- expected reimbursement, one hand-worked case per basis --------------------------------------


def test_trust_adjudication_expects_exactly_the_plan_paid() -> None:
    got = expected_reimbursement(claim(total_paid_cents=809), terms())
    assert got.cents == 809
    assert got.basis == TRUST


def test_brand_awp_minus_percent_plus_fee_less_patient_pay() -> None:
    # AWP $5.00 x 30 = $150.00; x (1 - 17%) = $124.50; + $1.25 = $125.75; - $35.00 copay
    t = terms(brand=Reimbursement(AWP_MINUS, D("17"), 125))
    c = claim(is_brand=True, patient_pay_cents=3500)
    got = expected_reimbursement(c, t, UnitPrices(awp=D("5.00")))
    assert (got.ingredient_cents, got.cents) == (12450, 9075)


def test_wac_plus_percent() -> None:
    # WAC $4.00 x 30 = $120.00; x 1.02 = $122.40; + $1.00; no copay
    t = terms(brand=Reimbursement(WAC_PLUS, D("2"), 100))
    c = claim(is_brand=True, patient_pay_cents=0)
    assert expected_reimbursement_cents(c, t, UnitPrices(wac=D("4.00"))) == 12340


def test_nadac_plus_percent_medicaid_style() -> None:
    # NADAC $0.10210 x 28 = $2.8588; x 1.05 = $3.00174 -> $3.00; + $10.50; - $1.00
    t = terms(generic=Reimbursement(NADAC_PLUS, D("5"), 1050))
    c = claim(quantity=D("28"), patient_pay_cents=100)
    assert expected_reimbursement_cents(c, t, UnitPrices(nadac=D("0.10210"))) == 1250


def test_nadac_with_a_negative_percent_is_nadac_minus() -> None:
    # NADAC $0.50 x 100 = $50.00; x (1 - 12%) = $44.00
    t = terms(generic=Reimbursement(NADAC_PLUS, D("-12"), 0))
    c = claim(quantity=D("100"), patient_pay_cents=0)
    assert expected_reimbursement_cents(c, t, UnitPrices(nadac=D("0.50"))) == 4400


def test_mac_with_a_mac_price() -> None:
    # MAC $0.20 x 90 = $18.00; + $0.75; - $5.00
    t = terms(generic=Reimbursement(MAC, D("0"), 75))
    c = claim(quantity=D("90"))
    got = expected_reimbursement(c, t, UnitPrices(mac=D("0.20")))
    assert (got.cents, got.ingredient_from_claim) == (1375, False)


def test_mac_without_a_mac_price_trusts_the_adjudicated_ingredient_and_checks_the_fee() -> None:
    # $12.34 adjudicated ingredient + the contract's $1.00 fee - $5.00 (the claim was paid $0.75)
    t = terms(generic=Reimbursement(MAC, D("0"), 100))
    got = expected_reimbursement(claim(), t)
    assert (got.cents, got.ingredient_from_claim) == (834, True)


def test_the_usual_and_customary_price_caps_the_gross_when_lower() -> None:
    t = terms(generic=Reimbursement(MAC, D("0"), 1050))
    c = claim(usual_customary_cents=1299, patient_pay_cents=100)
    got = expected_reimbursement(c, t)
    assert (got.cents, got.capped_at_usual) == (1199, True)
    # a contract without the lesser-of clause, or a claim without a U&C, is not capped
    assert expected_reimbursement_cents(c, terms(generic=t.generic, lesser_of_usual=False)) == 2184
    assert expected_reimbursement_cents(claim(patient_pay_cents=100), t) == 2184


def test_a_copay_above_the_contract_price_leaves_the_plan_nothing_to_pay() -> None:
    t = terms(generic=Reimbursement(MAC, D("0"), 0))
    assert expected_reimbursement_cents(claim(patient_pay_cents=5000), t) == 0


def test_a_missing_price_gives_no_expectation_and_names_the_price() -> None:
    t = terms(generic=Reimbursement(NADAC_PLUS, D("0"), 1050))
    got = expected_reimbursement(claim(), t, UnitPrices(awp=D("1")))
    assert (got.cents, got.missing) == (None, "NADAC")


def test_the_ingredient_rounds_half_up_to_the_cent() -> None:
    # $0.1235 x 30 = $3.705 -> 370.5 cents -> 371 (banker's rounding would give 370)
    t = terms(generic=Reimbursement(NADAC_PLUS, D("0"), 0))
    c = claim(patient_pay_cents=0)
    got = expected_reimbursement(c, t, UnitPrices(nadac=D("0.1235")))
    assert got.ingredient_cents == 371
    # $0.12345 x 30 = $3.7035 -> 370.35 cents -> 370
    assert expected_reimbursement_cents(c, t, UnitPrices(nadac=D("0.12345"))) == 370


def test_brand_and_generic_claims_use_their_own_basis() -> None:
    t = terms(
        brand=Reimbursement(AWP_MINUS, D("20"), 100),
        generic=Reimbursement(NADAC_PLUS, D("0"), 1000),
    )
    prices = UnitPrices(awp=D("1.00"), nadac=D("0.10"))
    c = claim(patient_pay_cents=0)
    assert expected_reimbursement_cents(c, t, prices) == 300 + 1000  # NADAC $3.00 + $10
    brand = claim(is_brand=True, patient_pay_cents=0)
    assert expected_reimbursement_cents(brand, t, prices) == 2400 + 100  # AWP $30 x 0.8 + $1


# -- fee estimates -------------------------------------------------------------------------------


def test_fees_add_per_claim_percent_of_ingredient_and_percent_of_plan_paid() -> None:
    fees = FeeTerms(per_claim_cents=60, pct_of_ingredient=D("3.5"), pct_of_plan_paid=D("1"))
    # 3.5% of $12.34 = 43.19 -> 43; 1% of $20.05 = 20.05 -> 20
    est = fee_estimate(claim(total_paid_cents=2005), terms(fees=fees))
    assert (est.per_claim_cents, est.ingredient_pct_cents, est.plan_paid_pct_cents) == (60, 43, 20)
    assert est.effective_rate_cents is None
    assert est.total_cents == 123


def test_each_fee_part_rounds_half_up_on_its_own() -> None:
    fees = FeeTerms(pct_of_ingredient=D("5"), pct_of_plan_paid=D("2.5"))
    # 5% of $12.30 = 61.5 -> 62; 2.5% of $12.34 = 30.85 -> 31
    c = claim(ingredient_cost_paid_cents=1230, total_paid_cents=1234)
    assert estimated_fees_cents(c, terms(fees=fees)) == 93


def test_an_effective_rate_target_charges_the_excess_over_the_target_and_credits_a_shortfall() -> (
    None
):
    fees = FeeTerms(generic_effective_rate=D("85"))
    prices = UnitPrices(awp=D("1.00"))  # target: $30.00 x 15% = $4.50
    above = claim(ingredient_cost_paid_cents=500)
    below = claim(ingredient_cost_paid_cents=400)
    assert fee_estimate(above, terms(fees=fees), prices).effective_rate_cents == 50
    assert fee_estimate(below, terms(fees=fees), prices).effective_rate_cents == -50
    # brands have no target here; without an AWP price the part is unknown and counts 0
    brand = claim(is_brand=True, ingredient_cost_paid_cents=500)
    assert fee_estimate(brand, terms(fees=fees), prices).effective_rate_cents is None
    assert fee_estimate(above, terms(fees=fees)).effective_rate_cents is None
    assert estimated_fees_cents(above, terms(fees=fees)) == 0


def test_a_contract_without_fee_terms_estimates_nothing() -> None:
    assert estimated_fees_cents(claim(), terms()) == 0


# -- plan matching and versions ------------------------------------------------------------------


def c(
    cid: int,
    pcn: str = "*",
    group: str = "*",
    *,
    bin: str = "610442",
    start: date = date(2026, 1, 1),
    end: date | None = None,
) -> ContractTerms:
    return terms(
        contract_id=cid, bin=bin, pcn=pcn, group=group, effective_from=start, effective_to=end
    )


PLAN = PlanKey("610442", "KSCOMM", "KSA100")


def test_the_most_specific_contract_wins() -> None:
    anyone, by_pcn, by_group, both = (
        c(1),
        c(2, pcn="KSCOMM"),
        c(3, group="KSA100"),
        c(4, "KSCOMM", "KSA100"),
    )
    everything = [anyone, by_pcn, by_group, both]
    assert contract_for(PLAN, DOS, everything) is both
    assert contract_for(PLAN, DOS, [anyone, by_pcn, by_group]) is by_group
    assert contract_for(PLAN, DOS, [anyone, by_pcn]) is by_pcn
    assert contract_for(PLAN, DOS, [anyone]) is anyone
    assert specificity("KSCOMM", "KSA100") > specificity("*", "KSA100") > specificity("KSCOMM", "")
    assert specificity("KSCOMM", "") > specificity("", "*")


def test_named_values_must_equal_the_plans_and_the_bin_always_must() -> None:
    others = [c(1, pcn="OTHER"), c(2, group="OTHER"), c(3, bin="004740")]
    assert contract_for(PLAN, DOS, others) is None
    other_group = PlanKey("610442", "KSCOMM", "KSB200")
    assert contract_for(other_group, DOS, [c(4, group="KSA100"), c(5)]) == c(5)


def test_pcn_and_group_compare_trimmed_and_case_insensitively_and_blank_is_any() -> None:
    assert contract_for(PLAN, DOS, [c(1, pcn=" kscomm ", group="ksa100")]) is not None
    assert contract_for(PLAN, DOS, [c(2, pcn="", group="")]) is not None
    assert contract_for(PlanKey("610442", "", ""), DOS, [c(3, pcn="KSCOMM")]) is None


def test_the_version_in_effect_on_the_date_of_service_prices_the_claim() -> None:
    v1 = c(1, "KSCOMM", "KSA100", start=date(2025, 1, 1), end=date(2026, 3, 1))
    v2 = c(2, "KSCOMM", "KSA100", start=date(2026, 3, 2))
    versions = [v2, v1]
    assert contract_for(PLAN, date(2026, 3, 1), versions) is v1  # the last day of v1
    assert contract_for(PLAN, date(2026, 3, 2), versions) is v2  # the first day of v2
    assert contract_for(PLAN, date(2024, 12, 31), versions) is None


def test_a_group_contract_that_has_ended_falls_back_to_the_wider_one() -> None:
    group = c(1, group="KSA100", end=date(2026, 2, 28))
    wide = c(2, start=date(2025, 1, 1))
    assert contract_for(PLAN, date(2026, 2, 28), [group, wide]) is group
    assert contract_for(PLAN, date(2026, 3, 1), [group, wide]) is wide


def test_equally_specific_matches_go_to_the_older_version_then_the_lower_id() -> None:
    older = c(9, group="KSA100", start=date(2025, 6, 1))
    newer = c(3, group="KSA100", start=date(2026, 1, 1))
    assert contract_for(PLAN, DOS, [newer, older]) is older
    twin = c(7, group="KSA100", start=date(2025, 6, 1))
    assert contract_for(PLAN, DOS, [older, twin]) is twin


def test_versions_of_one_key_and_overlapping_periods() -> None:
    assert same_key(("610442", "kscomm", ""), ("610442 ", "KSCOMM", "*"))
    assert not same_key(("610442", "KSCOMM", "*"), ("610442", "KSCOMM", "KSA100"))
    jan = date(2026, 1, 1)
    assert periods_overlap(jan, date(2026, 1, 31), date(2026, 1, 31), None)
    assert not periods_overlap(jan, date(2026, 1, 31), date(2026, 2, 1), None)
    assert periods_overlap(jan, None, date(2030, 1, 1), date(2030, 1, 2))


# -- payment terms and aging ---------------------------------------------------------------------

NET_17 = PaymentTerms(days_to_pay=17, grace_days=7)


def test_due_date_and_overdue_use_days_to_pay_plus_grace() -> None:
    assert due_date(DOS, NET_17) == DOS + timedelta(days=17)
    last_pending = DOS + timedelta(days=24)
    assert not is_overdue(last_pending, DOS, NET_17)
    assert is_overdue(last_pending + timedelta(days=1), DOS, NET_17)
    assert age_bucket(last_pending, DOS, NET_17) == ""
    assert age_bucket(last_pending + timedelta(days=1), DOS, NET_17) == "0-30"


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (0, "0-30"),
        (30, "0-30"),
        (31, "31-60"),
        (60, "31-60"),
        (61, "61-90"),
        (90, "61-90"),
        (91, "90+"),
        (400, "90+"),
    ],
)
def test_buckets_count_days_from_the_date_of_service(days: int, bucket: str) -> None:
    due_today = PaymentTerms(days_to_pay=0)
    as_of = DOS + timedelta(days=days)
    assert aging(as_of, DOS, due_today).bucket == bucket
    assert age_bucket(as_of, DOS, due_today) == ("" if days == 0 else bucket)


def test_a_claim_with_long_terms_is_pending_past_thirty_days_then_lands_in_its_bucket() -> None:
    net_45 = PaymentTerms(days_to_pay=45, grace_days=0)
    assert age_bucket(DOS + timedelta(days=45), DOS, net_45) == ""
    assert age_bucket(DOS + timedelta(days=46), DOS, net_45) == "31-60"
    a = aging(DOS + timedelta(days=40), DOS, net_45)
    assert (a.age_days, a.bucket, a.overdue) == (40, "31-60", False)


def test_a_claim_dated_after_the_as_of_date_is_in_the_first_bucket() -> None:
    assert aging(DOS - timedelta(days=3), DOS, NET_17).bucket == "0-30"


# -- words ----------------------------------------------------------------------------------------


def test_the_terms_read_as_formulas() -> None:
    words = reimbursement_in_words(Reimbursement(AWP_MINUS, D("16.500"), 125), lesser_of_usual=True)
    assert words.startswith("AWP per unit x quantity x (1 - 16.5%) + $1.25 dispensing fee")
    assert "usual & customary" in words
    minus = reimbursement_in_words(Reimbursement(NADAC_PLUS, D("-12"), 0), lesser_of_usual=False)
    assert "(1 - 12%)" in minus
    assert "usual" not in minus
    assert fees_in_words(FeeTerms(per_claim_cents=60, pct_of_ingredient=D("3.500"))) == [
        "$0.60 per paid claim.",
        "3.5% of the ingredient cost paid.",
    ]
