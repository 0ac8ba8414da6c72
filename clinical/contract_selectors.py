"""Reading value-based contracts and their scorecards.

A user sees the contracts of their organizations; a contract's rates are the contract's
(every attributed patient of the chain counts, as the payer counts them), but the patients
listed as movers are only those of the user's stores.

Facts come from the adherence engine's last build (`MeasureResult` for PDC and SUPD,
care-gap `WorklistItem`s for CMR eligibility and open flu gaps, refill items for what a
refill is worth), signed MTM encounters, recorded immunizations and the fills' plans.
Each source is one set-based query over the attributed patients; `clinical.contracts`
does the arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import Max, QuerySet

from adherence import caregaps
from adherence.models import MeasureResult, WorklistItem
from adherence.pdc import COUNTED_STATUSES, MEASURED, age_on
from claims.models import Fill, Patient, Plan
from clinical import contracts as core
from clinical.models import ContractMeasure, Encounter, Immunization, ValueBasedContract
from rxrevops.access import Principal, object_get_for_user
from rxrevops.models import Location

MEASURE_LABELS = dict(ContractMeasure.Code.choices)
FLU = "flu"  # the flu vaccine's code in the care-gap rules (adherence/valuesets/caregaps-*.json)


def contracts_for_user(user: Principal, *, year: int | None = None) -> QuerySet[Any]:
    qs = ValueBasedContract.objects.for_user(user).prefetch_related("measures")
    if year is not None:
        qs = qs.filter(measurement_year=year)
    return qs.order_by("-measurement_year", "name", "pk")


def contract_get_for_user(*, user: Principal, contract_id: int) -> ValueBasedContract:
    """The contract, if it is one of the principal's organizations'; otherwise 404."""
    contract: ValueBasedContract = object_get_for_user(
        ValueBasedContract.objects.prefetch_related("measures"), user=user, pk=contract_id
    )
    return contract


@dataclass(frozen=True)
class MoverRow:
    mover: core.Mover
    patient: Patient
    label: str
    refill_by: date | None = None


@dataclass(frozen=True)
class ContractScorecard:
    contract: ValueBasedContract
    card: core.Scorecard
    plans: list[Plan]
    movers: list[MoverRow]  # the user's stores only, in the contract's measure order
    hidden_movers: int  # movers at stores the user does not reach
    measured_as_of: date | None  # the adherence build the PDC/SUPD facts come from
    notes: list[str] = field(default_factory=list)

    @property
    def measure_rows(self) -> list[tuple[str, core.MeasureScore]]:
        return [(MEASURE_LABELS.get(s.measure, s.measure), s) for s in self.card.measures]

    @property
    def score_percent(self) -> int | None:
        """The weighted share of measures met, in whole percent (display)."""
        score = self.card.score
        return None if score is None else round(score * 100)


def contract_terms(contract: ValueBasedContract) -> core.Terms:
    measures = sorted(contract.measures.all(), key=lambda m: core.MEASURES.index(m.measure))
    return core.Terms(
        year=contract.measurement_year,
        pmpm_cents=contract.pmpm_cents,
        effective_from=contract.effective_from,
        effective_to=contract.effective_to,
        measures=tuple(
            core.Term(
                measure=m.measure,
                threshold_percent=m.threshold_percent,
                bonus_cents=m.bonus_cents,
                weight=m.weight,
            )
            for m in measures
        ),
    )


def contract_plan_ids(contract: ValueBasedContract) -> frozenset[int]:
    """The plans this contract wins among its organization's contracts for the same year
    (most specific match wins, see `clinical.contracts`)."""
    rules = [
        core.ContractPlanRule(contract=pk, bin=b, pcn=pcn, group=group)
        for pk, b, pcn, group in ValueBasedContract.objects.filter(
            organization_id=contract.organization_id,
            measurement_year=contract.measurement_year,
            bin=contract.bin,
        ).values_list("pk", "bin", "pcn", "group")
    ]
    plans = {
        pk: core.PlanKey(bin=b, pcn=pcn, group=group)
        for pk, b, pcn, group in Plan.objects.filter(bin=contract.bin).values_list(
            "pk", "bin", "pcn", "group"
        )
    }
    return core.plans_by_contract(plans, rules).get(contract.pk, frozenset())


def attributed_patient_ids(
    contract: ValueBasedContract, *, plan_ids: Iterable[int] | None = None
) -> QuerySet[Any]:
    """Patients of the organization with a dispensed fill in the measurement year (within
    the contract's effective dates) under a plan the contract wins: a values queryset, to
    be used as a subquery."""
    if plan_ids is None:
        plan_ids = contract_plan_ids(contract)
    year = contract.measurement_year
    start = max(date(year, 1, 1), contract.effective_from)
    end = min(date(year, 12, 31), contract.effective_to or date(year, 12, 31))
    stores = Location.objects.filter(organization_id=contract.organization_id).values("pk")
    return (
        Fill.objects.filter(
            location_id__in=stores,
            plan_id__in=list(plan_ids),
            status__in=COUNTED_STATUSES,
            date_of_service__range=(start, end),
        )
        .values("patient_id")
        .distinct()
    )


def contract_scorecard(
    contract: ValueBasedContract, user: Principal, *, with_movers: bool = True
) -> ContractScorecard:
    """The contract's scorecard, with the movers of the user's stores (none listed when
    `with_movers` is false: the contract list needs only the figures)."""
    terms = contract_terms(contract)
    wanted = {t.measure for t in terms.measures}
    plan_ids = contract_plan_ids(contract)
    attributed = attributed_patient_ids(contract, plan_ids=plan_ids)
    members = set(attributed.values_list("patient_id", flat=True))
    org, year = contract.organization_id, contract.measurement_year
    notes: list[str] = []
    facts: list[core.Fact] = []
    refill_by: dict[tuple[int, str], date | None] = {}
    as_of = None
    if members and wanted & {*core.PDC_MEASURES, "SUPD"}:
        values = _worklist_values(org, attributed)
        pdc_facts, refill_by, as_of = _pdc_facts(org, year, attributed, wanted, values)
        facts += pdc_facts
        if as_of is None:
            notes.append(f"No adherence build for {year} yet: PDC and SUPD have no rates.")
    if members and "CMR" in wanted:
        facts += _cmr_facts(org, year, attributed)
    if members and "IMM-FLU" in wanted:
        flu, note = _flu_facts(org, year, attributed)
        facts += flu
        notes += note
    card = core.scorecard(terms, members=len(members), facts=facts)
    movers, hidden = _mover_rows(card, user=user, refill_by=refill_by) if with_movers else ([], 0)
    plans = list(Plan.objects.filter(pk__in=plan_ids).order_by("pcn", "group"))
    return ContractScorecard(
        contract=contract,
        card=card,
        plans=plans,
        movers=movers,
        hidden_movers=hidden,
        measured_as_of=as_of,
        notes=notes,
    )


def _worklist_values(org: int, attributed: QuerySet[Any]) -> dict[tuple[int, str], int]:
    """(patient, measure) -> the highest value of an open refill (or SUPD) item."""
    rows = WorklistItem.objects.filter(
        organization_id=org,
        status=WorklistItem.Status.OPEN,
        patient_id__in=attributed,
        kind__in=[WorklistItem.Kind.REFILL, WorklistItem.Kind.CARE_GAP],
        code__regex=r"^(refill:|supd$)",
    ).values_list("patient_id", "code", "value_cents")
    out: dict[tuple[int, str], int] = {}
    for patient, code, cents in rows:
        # refill:<measure>:<date>, or supd
        measure = "SUPD" if code == "supd" else code.split(":")[1]
        out[(patient, measure)] = max(cents, out.get((patient, measure), cents))
    return out


def _pdc_facts(
    org: int,
    year: int,
    attributed: QuerySet[Any],
    wanted: set[str],
    values: dict[tuple[int, str], int],
) -> tuple[list[core.Fact], dict[tuple[int, str], date | None], date | None]:
    rows = MeasureResult.objects.filter(
        organization_id=org, year=year, measure__in=wanted, patient_id__in=attributed
    ).values_list(
        "patient_id", "measure", "status", "adherent", "outlook", "days_can_miss", "refill_by"
    )
    facts, refill_by = [], {}
    for patient, measure, status, adherent, outlook, can_miss, by in rows:
        measured = status == MEASURED
        facts.append(
            core.Fact(
                patient=patient,
                measure=measure,
                denominator=measured,
                numerator=measured and adherent is True,
                outlook=outlook,
                days_can_miss=can_miss,
                value_cents=values.get((patient, measure), 0),
            )
        )
        refill_by[(patient, measure)] = by
    as_of = MeasureResult.objects.filter(organization_id=org, year=year).aggregate(at=Max("as_of"))[
        "at"
    ]
    return facts, refill_by, as_of


def _cmr_facts(org: int, year: int, attributed: QuerySet[Any]) -> list[core.Fact]:
    """Eligible: a `cmr:<year>` care-gap item (any status), or a signed CMR in the year
    (a patient can have had the CMR before any build listed them); completed: a signed
    CMR encounter held in the year. Drafts do not count."""
    items = WorklistItem.objects.filter(
        organization_id=org, code=f"cmr:{year}", patient_id__in=attributed
    ).values_list("patient_id", "status", "value_cents")
    signed = set(
        Encounter.objects.filter(
            organization_id=org,
            kind=Encounter.Kind.CMR,
            status=Encounter.Status.SIGNED,
            held_on__year=year,
            patient_id__in=attributed,
        ).values_list("patient_id", flat=True)
    )
    eligible = {p: (status == WorklistItem.Status.OPEN, cents) for p, status, cents in items}
    return [
        core.Fact(
            patient=p,
            measure="CMR",
            denominator=True,
            numerator=p in signed,
            open_gap=eligible.get(p, (False, 0))[0],
            value_cents=eligible.get(p, (False, 0))[1],
        )
        for p in sorted(set(eligible) | signed)
    ]


def _flu_facts(org: int, year: int, attributed: QuerySet[Any]) -> tuple[list[core.Fact], list[str]]:
    """The flu season that starts in the measurement year (its care-gap rules file):
    denominator, attributed patients of the flu vaccine's minimum age on the season's
    first day; numerator, a flu dose recorded inside the season window; open gap, the
    season's `imm:flu:<season>` care-gap item is open."""
    try:
        rules = caregaps.gap_rules(year)
    except LookupError:
        return [], [f"No care-gap rules for the {year} flu season: IMM-FLU cannot be scored."]
    season = rules.season
    flu = next(v for v in rules.vaccines if v.code == FLU)
    births = Patient.objects.filter(pk__in=attributed).values_list("pk", "date_of_birth")
    adults = {p for p, born in births if age_on(born, season.flu_start) >= flu.min_age}
    doses = Immunization.objects.filter(
        organization_id=org,
        patient_id__in=attributed,
        administered_on__range=(season.flu_start, season.flu_end),
    ).values_list("patient_id", "cvx")
    vaccinated = {p for p, cvx in doses if _is_flu(rules, cvx)}
    gaps = dict(
        WorklistItem.objects.filter(
            organization_id=org,
            code=f"imm:{FLU}:{season.label}",
            status=WorklistItem.Status.OPEN,
            patient_id__in=attributed,
        ).values_list("patient_id", "value_cents")
    )
    facts = [
        core.Fact(
            patient=p,
            measure="IMM-FLU",
            denominator=True,
            numerator=p in vaccinated,
            open_gap=p in gaps,
            value_cents=gaps.get(p, 0),
        )
        for p in sorted(adults | vaccinated)
    ]
    return facts, []


def _is_flu(rules: caregaps.GapRules, cvx: str) -> bool:
    vaccine = rules.vaccine_for(cvx)
    return vaccine is not None and vaccine.code == FLU


def _mover_rows(
    card: core.Scorecard,
    *,
    user: Principal,
    refill_by: dict[tuple[int, str], date | None],
) -> tuple[list[MoverRow], int]:
    movers = [m for score in card.measures for m in score.movers]
    visible = _patients(user, {m.patient for m in movers})
    rows = [
        MoverRow(
            mover=m,
            patient=visible[m.patient],
            label=MEASURE_LABELS.get(m.measure, m.measure),
            refill_by=refill_by.get((m.patient, m.measure)),
        )
        for m in movers
        if m.patient in visible
    ]
    return rows, len(movers) - len(rows)


def _patients(user: Principal, ids: Iterable[int]) -> dict[int, Patient]:
    qs = Patient.objects.for_user(user).filter(pk__in=list(ids)).select_related("location")
    return {p.pk: p for p in qs}


def contract_summaries_for_user(user: Principal, *, year: int | None = None) -> list[Any]:
    """The contract list's rows: each contract's scorecard without movers."""
    return [
        contract_scorecard(c, user, with_movers=False) for c in contracts_for_user(user, year=year)
    ]
