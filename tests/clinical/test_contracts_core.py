"""The value-based contract core, without a database: hand-worked rates, gaps, movers, money
and plan matching."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from clinical.contracts import (
    ContractPlanRule,
    Fact,
    PlanKey,
    Term,
    Terms,
    contract_for_plan,
    contract_months,
    measure_score,
    needed,
    plans_by_contract,
    scorecard,
)


def facts(measure: str, numerator: int, others: int) -> list[Fact]:
    """`numerator` patients in the numerator, `others` in the denominator only."""
    out = [
        Fact(patient=i, measure=measure, denominator=True, numerator=True) for i in range(numerator)
    ]
    out += [
        Fact(patient=1000 + i, measure=measure, denominator=True, numerator=False)
        for i in range(others)
    ]
    return out


def term(measure: str = "PDC-STA", threshold: str = "80", bonus: int = 50_000) -> Term:
    return Term(measure=measure, threshold_percent=Decimal(threshold), bonus_cents=bonus)


# -- rates, thresholds, gaps --------------------------------------------------------------------


def test_exactly_at_the_threshold_is_met_with_no_gap() -> None:
    score = measure_score(term(threshold="80"), facts("PDC-STA", 8, 2))
    assert (score.denominator, score.numerator) == (10, 8)
    assert score.rate == Fraction(4, 5)
    assert score.rate_percent == Decimal("80.0")
    assert score.met is True
    assert score.gap == 0
    assert score.projected_bonus_cents == 50_000
    assert score.bonus_at_stake_cents == 0


def test_one_patient_short_of_the_threshold_is_a_gap_of_one() -> None:
    score = measure_score(term(threshold="80"), facts("PDC-STA", 7, 3))
    assert score.rate_percent == Decimal("70.0")
    assert score.met is False
    assert score.gap == 1
    assert score.projected_bonus_cents == 0
    assert score.bonus_at_stake_cents == 50_000


def test_the_gap_rounds_up_to_whole_patients() -> None:
    # 85.5% of 7 = 5.985 patients: 6 are needed; with 3 in the numerator the gap is 3
    assert needed(Decimal("85.5"), 7) == 6
    score = measure_score(term(threshold="85.5"), facts("PDC-STA", 3, 4))
    assert score.gap == 3


def test_rates_compare_exactly_not_as_rounded_percentages() -> None:
    # 2/3 = 66.666...% displays as 66.7% but is below a 66.67% threshold
    score = measure_score(term(threshold="66.67"), facts("PDC-STA", 2, 1))
    assert score.rate_percent == Decimal("66.7")
    assert score.met is False
    assert score.gap == 1  # ceil(66.67 x 3 / 100) = ceil(2.0001) = 3 needed
    at = measure_score(term(threshold="66.66"), facts("PDC-STA", 2, 1))
    assert at.met is True
    assert at.gap == 0


def test_an_empty_denominator_has_no_rate_and_is_not_met() -> None:
    score = measure_score(term(), [])
    assert score.rate is None
    assert score.rate_percent is None
    assert score.met is False
    assert score.gap is None
    assert score.reachable is False


def test_patients_outside_the_denominator_do_not_count() -> None:
    rows = [
        *facts("SUPD", 1, 1),
        Fact(patient=7, measure="SUPD", denominator=False, numerator=False),
    ]
    score = measure_score(term("SUPD"), rows)
    assert (score.denominator, score.numerator) == (2, 1)


def test_a_numerator_patient_outside_the_denominator_is_refused() -> None:
    bad = Fact(patient=1, measure="CMR", denominator=False, numerator=True)
    with pytest.raises(ValueError, match="numerator only"):
        measure_score(term("CMR"), [bad])


def test_two_facts_for_one_patient_are_refused() -> None:
    row = Fact(patient=1, measure="CMR", denominator=True, numerator=False)
    with pytest.raises(ValueError, match="two CMR facts"):
        measure_score(term("CMR"), [row, row])


# -- movers -------------------------------------------------------------------------------------


def pdc(patient: int, outlook: str, days_can_miss: int, value: int = 0, **kw: bool) -> Fact:
    return Fact(
        patient=patient,
        measure="PDC-STA",
        denominator=True,
        numerator=kw.get("numerator", False),
        outlook=outlook,
        days_can_miss=days_can_miss,
        value_cents=value,
    )


def test_pdc_movers_are_at_risk_or_failing_patients_most_slack_first() -> None:
    rows = [
        pdc(1, "will_fail_without_action", 3, value=9_000),
        pdc(2, "at_risk", 20, value=1_000),
        pdc(3, "at_risk", 20, value=4_000),
        pdc(4, "already_lost", -5, value=9_999),  # a missed day cannot be bought back
        pdc(5, "adherent", 40, numerator=True),
        pdc(6, "adherent", 12),  # secured by supply on hand: no action moves it
        pdc(7, "at_risk", 0),
    ]
    score = measure_score(term(threshold="50"), rows)
    # 1 of 7 adherent; 50% of 7 = 3.5 -> 4 needed: a gap of 3
    assert score.gap == 3
    assert [m.patient for m in score.movers] == [3, 2, 1, 7]
    assert [m.rank for m in score.movers] == [1, 2, 3, 4]
    assert [m.closes_gap for m in score.movers] == [True, True, True, False]
    assert score.reachable is True


def test_a_gap_larger_than_the_movers_is_not_reachable() -> None:
    rows = [pdc(1, "at_risk", 5), pdc(2, "already_lost", -1), pdc(3, "already_lost", -9)]
    score = measure_score(term(threshold="80"), rows)
    assert score.gap == 3
    assert len(score.movers) == 1
    assert score.reachable is False


def test_cmr_movers_are_eligible_patients_without_a_signed_cmr_open_gaps_first() -> None:
    rows = [
        Fact(patient=1, measure="CMR", denominator=True, numerator=True),
        Fact(patient=2, measure="CMR", denominator=True, numerator=False, value_cents=7500),
        Fact(patient=3, measure="CMR", denominator=True, numerator=False, open_gap=True),
        Fact(
            patient=4,
            measure="CMR",
            denominator=True,
            numerator=False,
            open_gap=True,
            value_cents=7500,
        ),
    ]
    score = measure_score(term("CMR", threshold="50"), rows)
    assert score.rate_percent == Decimal("25.0")
    assert score.gap == 1
    assert [m.patient for m in score.movers] == [4, 3, 2]
    assert [m.closes_gap for m in score.movers] == [True, False, False]


def test_flu_movers_need_an_open_flu_gap() -> None:
    rows = [
        Fact(patient=1, measure="IMM-FLU", denominator=True, numerator=True),
        Fact(patient=2, measure="IMM-FLU", denominator=True, numerator=False, open_gap=True),
        Fact(patient=3, measure="IMM-FLU", denominator=True, numerator=False),
    ]
    score = measure_score(term("IMM-FLU", threshold="60"), rows)
    assert score.gap == 1
    assert [m.patient for m in score.movers] == [2]


def test_supd_movers_are_every_measured_patient_without_a_statin_by_value() -> None:
    rows = [
        Fact(patient=1, measure="SUPD", denominator=True, numerator=False, value_cents=100),
        Fact(patient=2, measure="SUPD", denominator=True, numerator=False, value_cents=900),
    ]
    score = measure_score(term("SUPD"), rows)
    assert [m.patient for m in score.movers] == [2, 1]


# -- money --------------------------------------------------------------------------------------


def test_months_are_the_calendar_months_the_effective_period_touches() -> None:
    assert contract_months(2026, date(2025, 7, 1), None) == 12
    assert contract_months(2026, date(2026, 3, 15), date(2026, 9, 1)) == 7
    assert contract_months(2026, date(2026, 1, 1), date(2026, 1, 1)) == 1
    assert contract_months(2026, date(2027, 1, 1), None) == 0
    assert contract_months(2026, date(2024, 1, 1), date(2025, 12, 31)) == 0


def test_the_scorecard_projects_pmpm_and_the_bonus_of_measures_met() -> None:
    terms = Terms(
        year=2026,
        pmpm_cents=250,
        effective_from=date(2026, 4, 1),
        effective_to=None,
        measures=(
            Term("PDC-STA", Decimal("80"), 100_000, weight=3),
            Term("CMR", Decimal("50"), 40_000),
        ),
    )
    rows = [*facts("PDC-STA", 4, 1), *facts("CMR", 1, 3), *facts("PDC-DR", 0, 5)]
    card = scorecard(terms, members=40, facts=rows)
    assert card.months == 9
    assert card.pmpm_revenue_cents == 40 * 9 * 250  # $900.00
    assert [m.measure for m in card.measures] == ["PDC-STA", "CMR"]  # PDC-DR not contracted
    sta, cmr = card.measures
    assert sta.met
    assert not cmr.met
    assert card.projected_bonus_cents == 100_000
    assert card.bonus_at_stake_cents == 40_000
    assert card.projected_revenue_cents == 90_000 + 100_000
    assert card.met_count == 1
    assert card.score == Fraction(3, 4)  # weight 3 met of 3 + 1


def test_an_unknown_measure_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown measure"):
        measure_score(term("PDC-ARV"), [])


# -- plan matching ------------------------------------------------------------------------------


PLAN = PlanKey(bin="610999", pcn="VB", group="STAR")


def rule(contract: int, pcn: str = "*", group: str = "*", bin: str = "610999") -> ContractPlanRule:
    return ContractPlanRule(contract=contract, bin=bin, pcn=pcn, group=group)


def test_wildcards_match_any_pcn_and_group_and_the_bin_must_match() -> None:
    assert contract_for_plan(PLAN, [rule(1)]) == 1
    assert contract_for_plan(PLAN, [rule(1, pcn="", group="")]) == 1  # blank is any too
    assert contract_for_plan(PLAN, [rule(1, bin="015814")]) is None
    assert contract_for_plan(PLAN, [rule(1, pcn="OTHER")]) is None
    assert contract_for_plan(PLAN, [rule(1, pcn="vb ", group="star")]) == 1


def test_the_most_specific_contract_wins() -> None:
    bin_only, pcn, group, both = (
        rule(1),
        rule(2, pcn="VB"),
        rule(3, group="STAR"),
        rule(4, pcn="VB", group="STAR"),
    )
    assert contract_for_plan(PLAN, [bin_only, pcn]) == 2
    assert contract_for_plan(PLAN, [pcn, group]) == 3  # a named group beats a named PCN
    assert contract_for_plan(PLAN, [both, group, pcn, bin_only]) == 4
    assert contract_for_plan(PLAN, [rule(9, pcn="VB"), rule(5, pcn="VB")]) == 5  # older wins


def test_plans_are_split_between_contracts_by_most_specific_match() -> None:
    plans = {
        10: PLAN,
        11: PlanKey("610999", "VB", "OTHER"),
        12: PlanKey("610999", "COMM", "X"),
        13: PlanKey("015814", "MEDD", "G"),
    }
    won = plans_by_contract(plans, [rule(1), rule(2, group="STAR")])
    assert won == {1: frozenset({11, 12}), 2: frozenset({10})}
