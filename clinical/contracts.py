"""Value-based contract scorecards: pure arithmetic over plain facts.

The selectors (`clinical.contract_selectors`) load a contract's terms and per-patient facts
from the database; this module decides everything else. No Django, no ORM.

Plan matching (`contract_for_plan`)
    A contract names plans by BIN (required), PCN and group, where `*` (or blank) matches
    any value. Values compare after trimming, case-insensitively. When several contracts
    match one plan, the most specific wins: a named group beats a named PCN (a group is
    one employer or benefit inside a PCN), and a contract naming both beats either; two
    equally specific contracts go to the older one (lower id), so adding a contract never
    silently takes members from another one of the same rank.

Rates (`measure_score`)
    Only patients in the measure's denominator count. rate = numerator / denominator as an
    exact fraction; the measure is *met* when rate x 100 >= threshold (exactly at the
    threshold is met). The *gap* is how many more numerator patients are needed:
    ceil(threshold x denominator / 100) - numerator, never below 0; with an empty
    denominator there is no rate, the measure is not met and the gap is unknown (None).
    A mover added to the numerator stays in the denominator, so the gap is exact.

Movers: patients in the denominator, not in the numerator, who can still get there
    - PDC-DR / PDC-RASA / PDC-STA: outlook `at_risk` or `will_fail_without_action`
      (adherence.outlook). `already_lost` cannot be bought back; `adherent` (secured by the
      supply on hand) needs no action. Ranked by days the patient can still miss, most
      first: with more slack, one refill any day before the last refill date secures the
      year, which is the cheapest way to move the score; a patient with no slack needs
      every remaining day covered. Then by what the refill is worth (value, highest first).
    - SUPD: every one (a single statin fill before December 31 meets it), by value.
    - CMR: every eligible patient without a signed CMR in the year; an open CMR care gap
      (still targeted by the last build) first, then by value.
    - IMM-FLU: only patients with an open flu care gap for the season (the build lists the
      active adults it can still reach), by value.
    Ties go to the lower patient id, so the order is stable. The first `gap` movers are
    flagged `closes_gap`: moving them is the cheapest way to meet the threshold, and the
    measure is *reachable* when there are at least `gap` movers.

Money (`scorecard`)
    - projected bonus: the bonus of every measure met at the current rate;
    - bonus at stake: the bonus of every measure not met yet;
    - PMPM revenue: attributed members x months x PMPM, where months are the calendar
      months of the measurement year that the effective period touches;
    - score: the share of measure weight met (a measure without a weight weighs 1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from adherence.outlook import AT_RISK, WILL_FAIL

PDC_MEASURES = ("PDC-DR", "PDC-RASA", "PDC-STA")
MEASURES = (*PDC_MEASURES, "SUPD", "CMR", "IMM-FLU")
WILDCARD = "*"
_MOVABLE_OUTLOOKS = frozenset({AT_RISK, WILL_FAIL})


# -- plan matching ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanKey:
    bin: str
    pcn: str
    group: str


@dataclass(frozen=True, slots=True)
class ContractPlanRule:
    contract: int
    bin: str
    pcn: str  # "*" or blank: any
    group: str  # "*" or blank: any


def _norm(value: str) -> str:
    return value.strip().upper()


def _wild(value: str) -> bool:
    return _norm(value) in ("", WILDCARD)


def rule_matches(rule: ContractPlanRule, plan: PlanKey) -> bool:
    return (
        _norm(rule.bin) == _norm(plan.bin)
        and (_wild(rule.pcn) or _norm(rule.pcn) == _norm(plan.pcn))
        and (_wild(rule.group) or _norm(rule.group) == _norm(plan.group))
    )


def specificity(rule: ContractPlanRule) -> tuple[bool, bool]:
    """Higher is more specific: a named group outranks a named PCN."""
    return (not _wild(rule.group), not _wild(rule.pcn))


def contract_for_plan(plan: PlanKey, rules: Iterable[ContractPlanRule]) -> int | None:
    """The id of the most specific contract matching `plan` (older first on a tie)."""
    matching = [r for r in rules if rule_matches(r, plan)]
    if not matching:
        return None
    best = max(matching, key=lambda r: (specificity(r), -r.contract))
    return best.contract


def plans_by_contract(
    plans: Mapping[int, PlanKey], rules: Sequence[ContractPlanRule]
) -> dict[int, frozenset[int]]:
    """Contract id -> the plan ids it wins (contracts that win none are left out)."""
    won: dict[int, set[int]] = {}
    for plan_id, plan in plans.items():
        contract = contract_for_plan(plan, rules)
        if contract is not None:
            won.setdefault(contract, set()).add(plan_id)
    return {c: frozenset(p) for c, p in won.items()}


# -- terms and facts ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Term:
    measure: str
    threshold_percent: Decimal
    bonus_cents: int
    weight: int | None = None


@dataclass(frozen=True, slots=True)
class Terms:
    year: int
    pmpm_cents: int
    effective_from: date
    effective_to: date | None
    measures: tuple[Term, ...]


@dataclass(frozen=True, slots=True)
class Fact:
    """One attributed patient's standing on one measure.

    `outlook` and `days_can_miss` are for PDC measures (adherence.outlook); `open_gap`
    says an open care-gap item exists (CMR, IMM-FLU); `value_cents` is what the worklist
    says acting on it is worth (0 when unknown).
    """

    patient: int
    measure: str
    denominator: bool
    numerator: bool
    outlook: str = ""
    days_can_miss: int | None = None
    open_gap: bool = False
    value_cents: int = 0


@dataclass(frozen=True, slots=True)
class Mover:
    patient: int
    measure: str
    rank: int  # 1: the cheapest move
    closes_gap: bool  # among the `gap` cheapest: moving these meets the threshold
    outlook: str
    days_can_miss: int | None
    open_gap: bool
    value_cents: int


@dataclass(frozen=True, slots=True)
class MeasureScore:
    measure: str
    threshold_percent: Decimal
    bonus_cents: int
    weight: int
    denominator: int
    numerator: int
    rate: Fraction | None
    met: bool
    gap: int | None
    movers: tuple[Mover, ...]

    @property
    def rate_percent(self) -> Decimal | None:
        """The rate in percent to one decimal (display; `met` uses the exact fraction)."""
        if self.rate is None:
            return None
        exact = Decimal(self.rate.numerator * 100) / Decimal(self.rate.denominator)
        return exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def projected_bonus_cents(self) -> int:
        return self.bonus_cents if self.met else 0

    @property
    def bonus_at_stake_cents(self) -> int:
        return 0 if self.met else self.bonus_cents

    @property
    def reachable(self) -> bool:
        return self.gap is not None and self.gap <= len(self.movers)


@dataclass(frozen=True, slots=True)
class Scorecard:
    members: int
    months: int
    pmpm_cents: int
    measures: tuple[MeasureScore, ...]

    @property
    def pmpm_revenue_cents(self) -> int:
        return self.members * self.months * self.pmpm_cents

    @property
    def projected_bonus_cents(self) -> int:
        return sum(m.projected_bonus_cents for m in self.measures)

    @property
    def bonus_at_stake_cents(self) -> int:
        return sum(m.bonus_at_stake_cents for m in self.measures)

    @property
    def projected_revenue_cents(self) -> int:
        return self.pmpm_revenue_cents + self.projected_bonus_cents

    @property
    def met_count(self) -> int:
        return sum(1 for m in self.measures if m.met)

    @property
    def score(self) -> Fraction | None:
        """Share of the measures' weight that is met; None without measures."""
        total = sum(m.weight for m in self.measures)
        if not total:
            return None
        return Fraction(sum(m.weight for m in self.measures if m.met), total)


# -- arithmetic ---------------------------------------------------------------------------------


def needed(threshold_percent: Decimal, denominator: int) -> int:
    """Numerator patients needed to reach the threshold: ceil(threshold x den / 100)."""
    need = Fraction(threshold_percent) * denominator / 100
    return -(-need.numerator // need.denominator)


def contract_months(year: int, effective_from: date, effective_to: date | None) -> int:
    """Calendar months of `year` that [effective_from, effective_to] touches (0 if none)."""
    start = max(effective_from, date(year, 1, 1))
    end = min(effective_to or date(year, 12, 31), date(year, 12, 31))
    if end < start:
        return 0
    return (end.year - start.year) * 12 + end.month - start.month + 1


def _is_mover(fact: Fact) -> bool:
    if not fact.denominator or fact.numerator:
        return False
    if fact.measure in PDC_MEASURES:
        return fact.outlook in _MOVABLE_OUTLOOKS
    if fact.measure == "IMM-FLU":
        return fact.open_gap
    return fact.measure in ("SUPD", "CMR")


def _mover_key(fact: Fact) -> tuple[int, int, int, int]:
    """Sort key, cheapest move first (see the module docstring)."""
    if fact.measure in PDC_MEASURES:
        slack = fact.days_can_miss if fact.days_can_miss is not None else -1
        return (-slack, 0, -fact.value_cents, fact.patient)
    return (0, 0 if fact.open_gap else 1, -fact.value_cents, fact.patient)


def measure_score(term: Term, facts: Iterable[Fact]) -> MeasureScore:
    """One measure's rate, threshold, gap and ranked movers from its patients' facts."""
    if term.measure not in MEASURES:
        raise ValueError(f"unknown measure {term.measure!r}")
    den = num = 0
    movable: list[Fact] = []
    seen: set[int] = set()
    for f in facts:
        if f.measure != term.measure:
            raise ValueError(f"a {f.measure} fact was given for {term.measure}")
        if f.patient in seen:
            raise ValueError(f"patient {f.patient} has two {term.measure} facts")
        seen.add(f.patient)
        if f.numerator and not f.denominator:
            raise ValueError(f"patient {f.patient}: in the {f.measure} numerator only")
        den += f.denominator
        num += f.numerator
        if _is_mover(f):
            movable.append(f)
    rate = Fraction(num, den) if den else None
    met = rate is not None and rate * 100 >= Fraction(term.threshold_percent)
    gap = max(0, needed(term.threshold_percent, den) - num) if den else None
    movable.sort(key=_mover_key)
    movers = tuple(
        Mover(
            patient=f.patient,
            measure=f.measure,
            rank=i,
            closes_gap=gap is not None and i <= gap,
            outlook=f.outlook,
            days_can_miss=f.days_can_miss,
            open_gap=f.open_gap,
            value_cents=f.value_cents,
        )
        for i, f in enumerate(movable, start=1)
    )
    return MeasureScore(
        measure=term.measure,
        threshold_percent=term.threshold_percent,
        bonus_cents=term.bonus_cents,
        weight=1 if term.weight is None else term.weight,
        denominator=den,
        numerator=num,
        rate=rate,
        met=met,
        gap=gap,
        movers=movers,
    )


def scorecard(terms: Terms, *, members: int, facts: Iterable[Fact]) -> Scorecard:
    """The contract's scorecard: each measure's score (in the order of `terms.measures`)
    and the money. `members`: the attributed patients; facts of measures the contract
    does not name are ignored."""
    by_measure: dict[str, list[Fact]] = {t.measure: [] for t in terms.measures}
    for f in facts:
        if f.measure in by_measure:
            by_measure[f.measure].append(f)
    return Scorecard(
        members=members,
        months=contract_months(terms.year, terms.effective_from, terms.effective_to),
        pmpm_cents=terms.pmpm_cents,
        measures=tuple(measure_score(t, by_measure[t.measure]) for t in terms.measures),
    )
