"""Contract scorecards on the worklist chain: attribution by plan matching, rates equal to
the adherence engine's measure results, CMR completion from signed encounters, flu doses."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from adherence.models import MeasureResult, WorklistItem
from claims.models import Fill, Patient, Plan
from clinical.contract_selectors import (
    attributed_patient_ids,
    contract_scorecard,
    contracts_for_user,
)
from clinical.models import Encounter, Immunization, ValueBasedContract
from clinical.services.contracts import MeasureTerm, contract_save, demo_contracts_create
from clinical.services.immunizations import immunization_record

YEAR = 2026


def plan(bin_: str, pcn: str, group: str) -> Plan:
    obj, _ = Plan.objects.get_or_create(
        bin=bin_, pcn=pcn, group=group, defaults={"contract_type": "value_based"}
    )
    return obj


def put_on(patient: Patient, p: Plan) -> None:
    Fill.objects.filter(patient=patient).update(plan=p)


def contract(org: Any, name: str, *, pcn: str = "*", group: str = "*", **kw: Any) -> Any:
    measures = kw.pop("measures", ())
    return contract_save(
        organization=org,
        name=name,
        payer_name="Test Payer",
        bin=kw.pop("bin", "610999"),
        pcn=pcn,
        group=group,
        measurement_year=YEAR,
        effective_from=date(YEAR, 1, 1),
        measures=[MeasureTerm(m, Decimal(t), b) for m, t, b in measures],
        **kw,
    )


def outlook(patient: Patient, measure: str, status: str, days_can_miss: int) -> None:
    """Make the engine's row say the patient is not adherent to date, with this outlook."""
    MeasureResult.objects.filter(patient=patient, year=YEAR, measure=measure).update(
        adherent=False, outlook=status, days_can_miss=days_can_miss, refill_by=date(2026, 12, 1)
    )


def cmr_item(patient: Patient, status: str = WorklistItem.Status.OPEN) -> WorklistItem:
    return WorklistItem.objects.create(
        organization=patient.location.organization,
        location=patient.location,
        patient=patient,
        kind=WorklistItem.Kind.CARE_GAP,
        code=f"cmr:{YEAR}",
        title="Comprehensive medication review (CMR), 2026",
        due_date=date(YEAR, 1, 1),
        value_cents=7500,
        status=status,
        built_at=timezone.make_aware(datetime(2026, 11, 23, 2, 0)),
    )


def encounter(patient: Patient, *, kind: str, status: str, held_on: date) -> Encounter:
    return Encounter.objects.create(
        organization=patient.location.organization,
        location=patient.location,
        patient=patient,
        series=uuid.uuid4(),
        kind=kind,
        status=status,
        held_on=held_on,
    )


def flu_dose(user: Any, patient: Patient, on: date) -> Immunization:
    return immunization_record(
        user=user,
        patient=patient,
        administered_on=on,
        cvx="150",
        mvx="SKB",
        lot="FL2026A",
        expiration=date(2027, 6, 30),
        dose_ml=Decimal("0.5"),
        site="LD",
        route="IM",
        vis_edition_date=date(2023, 8, 6),
        vis_given_on=on,
        funding_eligibility="V01",
        administering_npi="1598000011",
        billed_cents=4000,
    )


@pytest.fixture
def contracts_world(worklist_chain: SimpleNamespace) -> SimpleNamespace:
    """Three contracts on BIN 610999 of increasing specificity, and the chain's patients
    spread over the plans they match:

    - STAR (610999/VB/STAR): Statinskip and Nostatin (store A);
    - VB (610999/VB/*) wins 610999/VB/OTHER: Latefill (A), Bstatin and Syncbee (B);
    - BROAD (610999/*/*) wins 610999/COMM/X: Syncwell5 (A);
    - Syncwell6 is on another BIN; Syncwell7's only STAR fill is a reversal.
    """
    w = worklist_chain
    other = plan("610999", "VB", "OTHER")
    comm = plan("610999", "COMM", "X")
    put_on(w.at_risk, w.vb_plan)
    put_on(w.supd, w.vb_plan)
    for p in (w.late, w.at_risk_b, w.synced_b):
        put_on(p, other)
    put_on(w.synced_a[0], comm)
    put_on(w.synced_a[1], plan("015814", "MEDDPRIME", "RX4471"))
    reversed_fill = Fill.objects.filter(patient=w.synced_a[2]).first()
    assert reversed_fill is not None
    Fill.objects.filter(pk=reversed_fill.pk).update(plan=w.vb_plan, status=Fill.Status.REVERSED)

    # the engine's rows for the VB members: one at risk, one failing, one lost
    outlook(w.at_risk_b, "PDC-STA", "at_risk", 5)
    outlook(w.late, "PDC-RASA", "will_fail_without_action", 1)
    outlook(w.synced_b, "PDC-RASA", "already_lost", -3)

    broad = contract(w.org, "Broad", measures=[("PDC-RASA", "80", 10_000)], pmpm_cents=100)
    vb = contract(
        w.org,
        "VB partnership",
        pcn="VB",
        pmpm_cents=200,
        measures=[
            ("PDC-STA", "80", 100_000),
            ("PDC-RASA", "80", 100_000),
            ("CMR", "50", 50_000),
            ("IMM-FLU", "50", 40_000),
        ],
    )
    star = contract(
        w.org,
        "Star",
        pcn="VB",
        group="STAR",
        measures=[("PDC-STA", "80", 100_000), ("PDC-DR", "80", 50_000), ("SUPD", "80", 30_000)],
    )
    return SimpleNamespace(**vars(w), other_plan=other, broad=broad, vb=vb, star=star)


def attributed(c: ValueBasedContract) -> set[int]:
    return set(attributed_patient_ids(c).values_list("patient_id", flat=True))


def score(card: Any, measure: str) -> Any:
    return next(s for s in card.measures if s.measure == measure)


def test_patients_are_attributed_to_the_most_specific_contract_matching_their_plan(
    contracts_world: SimpleNamespace,
) -> None:
    w = contracts_world
    assert attributed(w.star) == {w.at_risk.pk, w.supd.pk}
    assert attributed(w.vb) == {w.late.pk, w.at_risk_b.pk, w.synced_b.pk}
    # the wildcard contract keeps only what nothing more specific claims; a reversed claim
    # and another BIN attribute nobody
    assert attributed(w.broad) == {w.synced_a[0].pk}


def test_fills_outside_the_measurement_year_or_effective_dates_do_not_attribute(
    contracts_world: SimpleNamespace,
) -> None:
    w = contracts_world
    late_start = contract(w.org, "From December", pcn="VB", group="OTHER")
    late_start.effective_from = date(YEAR, 12, 1)
    late_start.save()
    assert attributed(late_start) == set()  # no fills in December in this world
    next_year = contract_save(
        organization=w.org,
        name="Next year",
        payer_name="Test Payer",
        bin="610999",
        measurement_year=YEAR + 1,
        effective_from=date(YEAR + 1, 1, 1),
        measures=[],
    )
    assert attributed(next_year) == set()


def test_pdc_rates_equal_the_engines_measure_results_counted_independently(
    contracts_world: SimpleNamespace,
) -> None:
    w = contracts_world
    card = contract_scorecard(w.vb, w.owner).card
    members = Fill.objects.filter(
        plan__bin="610999", plan__pcn="VB", plan__group="OTHER", status="paid"
    ).values("patient_id")
    for measure in ("PDC-STA", "PDC-RASA"):
        rows = MeasureResult.objects.filter(
            year=YEAR, measure=measure, status="measured", patient_id__in=members
        )
        s = score(card, measure)
        assert (s.denominator, s.numerator) == (rows.count(), rows.filter(adherent=True).count())
    sta, rasa = score(card, "PDC-STA"), score(card, "PDC-RASA")
    assert (sta.denominator, sta.numerator, sta.gap) == (1, 0, 1)
    assert [m.patient for m in sta.movers] == [w.at_risk_b.pk]
    # two measured, none adherent: 80% of 2 needs 2; the lost patient cannot move
    assert (rasa.denominator, rasa.numerator, rasa.gap) == (2, 0, 2)
    assert [m.patient for m in rasa.movers] == [w.late.pk]
    assert rasa.reachable is False


def test_cmr_completion_counts_a_signed_cmr_in_the_year_and_not_a_draft(
    contracts_world: SimpleNamespace,
) -> None:
    w = contracts_world
    for p in (w.late, w.at_risk_b, w.synced_b):
        cmr_item(p)
    encounter(w.late, kind="cmr", status="signed", held_on=date(YEAR, 6, 1))
    encounter(w.at_risk_b, kind="cmr", status="draft", held_on=date(YEAR, 11, 20))
    encounter(w.synced_b, kind="tmr", status="signed", held_on=date(YEAR, 3, 1))
    encounter(w.synced_b, kind="cmr", status="signed", held_on=date(YEAR - 1, 12, 30))

    cmr = score(contract_scorecard(w.vb, w.owner).card, "CMR")
    assert (cmr.denominator, cmr.numerator) == (3, 1)
    assert cmr.rate_percent == Decimal("33.3")
    assert cmr.gap == 1  # 50% of 3 = 1.5: 2 needed
    assert [m.patient for m in cmr.movers] == sorted([w.at_risk_b.pk, w.synced_b.pk])

    encounter(w.at_risk_b, kind="cmr", status="signed", held_on=date(YEAR, 11, 21))
    cmr = score(contract_scorecard(w.vb, w.owner).card, "CMR")
    assert (cmr.numerator, cmr.met, cmr.gap) == (2, True, 0)


def test_a_signed_cmr_counts_for_a_patient_the_build_never_listed(
    contracts_world: SimpleNamespace,
) -> None:
    w = contracts_world
    cmr_item(w.late, status=WorklistItem.Status.RESOLVED)
    encounter(w.synced_b, kind="cmr", status="signed", held_on=date(YEAR, 2, 2))
    cmr = score(contract_scorecard(w.vb, w.owner).card, "CMR")
    assert (cmr.denominator, cmr.numerator) == (2, 1)
    assert [(m.patient, m.open_gap) for m in cmr.movers] == [(w.late.pk, False)]


def test_flu_rate_counts_season_doses_and_movers_have_an_open_flu_gap(
    contracts_world: SimpleNamespace,
) -> None:
    w = contracts_world
    flu_dose(w.owner, w.synced_b, date(2026, 10, 1))
    flu_dose(w.owner, w.late, date(2026, 3, 1))  # last season's: does not count
    flu = score(contract_scorecard(w.vb, w.owner).card, "IMM-FLU")
    assert (flu.denominator, flu.numerator, flu.gap) == (3, 1, 1)
    # synced_b is vaccinated; the other two still have their open gap from the build
    assert {m.patient for m in flu.movers} == {w.late.pk, w.at_risk_b.pk}
    assert all(m.value_cents == 2500 for m in flu.movers)


def test_the_projection_adds_pmpm_and_the_bonus_of_measures_met(
    contracts_world: SimpleNamespace,
) -> None:
    w = contracts_world
    vb = contract_scorecard(w.vb, w.owner).card
    assert vb.members == 3
    assert vb.pmpm_revenue_cents == 3 * 12 * 200
    star = contract_scorecard(w.star, w.owner).card
    # Statinskip and Nostatin are adherent to date; Nostatin has no statin (SUPD)
    assert [(s.measure, s.met) for s in star.measures] == [
        ("PDC-DR", True),
        ("PDC-STA", True),
        ("SUPD", False),
    ]
    assert star.projected_bonus_cents == 150_000
    assert star.bonus_at_stake_cents == 30_000
    supd = score(star, "SUPD")
    assert [(m.patient, m.value_cents) for m in supd.movers] == [(w.supd.pk, 3000)]


def test_a_store_user_sees_the_contract_but_only_their_stores_movers(
    contracts_world: SimpleNamespace,
) -> None:
    w = contracts_world
    for p in (w.late, w.at_risk_b):
        cmr_item(p)
    assert w.vb in contracts_for_user(w.pharmacist_b)
    mine = contract_scorecard(w.vb, w.pharmacist_b)
    everyone = contract_scorecard(w.vb, w.owner)
    assert mine.card == everyone.card  # the contract's rates, as the payer counts them
    assert {r.patient.location_id for r in mine.movers} == {w.loc_b.pk}
    assert w.late.pk not in {r.patient.pk for r in mine.movers}
    assert mine.hidden_movers == len(everyone.movers) - len(mine.movers) > 0


def test_contracts_of_another_organization_are_not_listed(
    contracts_world: SimpleNamespace, other_chain: SimpleNamespace
) -> None:
    theirs = contract(other_chain.org, "Theirs", measures=[("PDC-STA", "80", 1)])
    assert list(contracts_for_user(other_chain.owner)) == [theirs]
    assert theirs not in contracts_for_user(contracts_world.owner)
    # their contract does not compete for our plans: ours keep their members
    assert attributed(contracts_world.broad) == {contracts_world.synced_a[0].pk}
    assert attributed(theirs) == set()


def test_saving_a_contract_normalizes_wildcards_and_replaces_its_measures(
    contracts_world: SimpleNamespace,
) -> None:
    w = contracts_world
    c = contract(w.org, "Blank", pcn=" ", group="", measures=[("CMR", "70", 5)])
    assert (c.pcn, c.group) == ("*", "*")
    again = contract_save(
        organization=w.org,
        name="Blank",
        payer_name="Test Payer",
        bin="610999",
        measurement_year=YEAR,
        effective_from=date(YEAR, 1, 1),
        measures=[MeasureTerm("PDC-STA", Decimal("80"), 9)],
        contract=c,
    )
    assert again.pk == c.pk
    assert [m.measure for m in again.measures.all()] == ["PDC-STA"]
    with pytest.raises(ValidationError):
        contract(w.org, "Bad BIN", bin="61099")
    with pytest.raises(ValidationError):
        contract(w.org, "Bad threshold", measures=[("CMR", "101", 5)])


def test_demo_contracts_come_from_the_value_based_plans_the_chain_uses(
    contracts_world: SimpleNamespace,
) -> None:
    w = contracts_world
    ValueBasedContract.objects.all().delete()
    made = demo_contracts_create(w.org)
    # 610999/VB and 610999/COMM and 015814/MEDDPRIME are value-based here; two at most
    assert len(made) == 2
    assert {(c.bin, c.group) for c in made} <= {
        ("015814", "*"),
        ("610999", "*"),
    }
    assert all(c.measures.exists() and c.measurement_year == YEAR for c in made)
    again = demo_contracts_create(w.org)
    assert [c.pk for c in again] == [c.pk for c in made]
    assert ValueBasedContract.objects.filter(organization=w.org).count() == 2
