"""Payer contract terms: which contract a claim falls under, what the contract says the plan
should have paid, the fees to expect before the PBM's statement arrives, and when a claim is
due. Pure: plain dataclasses in, integers and dates out. No Django, no ORM.

Plan matching (`contract_for`)
    A contract names plans by BIN (6 digits, must equal the claim's), PCN and group, where
    `*` (or blank) matches any value. PCN and group compare after trimming,
    case-insensitively. Only versions in effect on the date of service take part
    (effective_from <= date <= effective_to, both inclusive; no effective_to = open), so
    when a group's own contract has ended the group falls back to the PCN-wide one.
    Among those, the most specific wins: PCN and group both named > group named > PCN
    named > neither (a group is one employer or benefit inside a PCN, so naming it says
    more). Two equally specific matches can only be versions of one key (BIN/PCN/group),
    which the services keep from overlapping; should it happen anyway, the older version
    (earlier effective_from, then lower id) wins, so adding a row never silently takes
    claims from an existing one. The rule is the value-based contracts' (clinical.contracts)
    plus effective dates, with the same ranking; `rule_matches` and `specificity` take plain
    strings so that module can call them (clinical sits above reconciliation, and this
    module imports nothing, so its pure-core contract holds).

Expected reimbursement (`expected_reimbursement`)
    The contract price of the claim, per the basis for its class (brand or generic):
        trust adjudication   expected = the adjudicated plan paid (509-F9), as is
        AWP minus x%         ingredient = AWP/unit x quantity x (1 - x/100)
        WAC plus x%          ingredient = WAC/unit x quantity x (1 + x/100)
        NADAC plus x%        ingredient = NADAC/unit x quantity x (1 + x/100)  (x may be < 0)
        MAC                  ingredient = MAC/unit x quantity; without a MAC price for the
                             NDC (PBM MAC lists are rarely shared), the adjudicated ingredient
                             cost paid (506-F6) is taken as the MAC, so only the fee and the
                             usual-and-customary cap are checked
    then, for every basis but trust adjudication:
        gross    = ingredient + the contract's dispensing fee
        gross    = min(gross, usual & customary) when the contract pays the lesser of the
                   two and the claim carries a U&C price (> 0)
        expected = max(0, gross - patient pay (505-F5))
    The ingredient is rounded half-up to the cent once (as a payer's 506-F6 is); the rest
    is integer cents. A basis whose unit price is unknown gives no expectation (cents None,
    `missing` names the price): the caller chooses the fallback (the adjudicated amount).

Fee estimates (`fee_estimate`, `estimated_fees_cents`), for a billed claim that stands
    (the engine gives reversals and cash claims none); each part rounded half-up on its own,
    as a statement lists each fee as its own line:
        per claim            the contract's flat per-claim fees (transaction, network)
        % of ingredient      ingredient cost paid (506-F6) x % / 100 (performance fees)
        % of plan paid       plan paid (509-F9) x % / 100
        effective rate       generic (or brand) effective-rate target "AWP - t%":
                             ingredient cost paid - AWP/unit x quantity x (1 - t/100).
                             Positive when the claim was paid above the target (the PBM will
                             take it back at the true-up), negative (a credit) when below:
                             the true-up is settled on the period's aggregate, so the per-claim
                             amounts add up to it. Without an AWP price this part is unknown
                             (None) and counts as 0.
    estimated fees = the sum of the parts. Positive amounts reduce the pharmacy's margin.

Payment terms (`due_date`, `overdue_after`, `is_overdue`, `aging`, `age_bucket`)
        due on         = date of service + days to pay
        overdue after  = due on + grace days; a claim still unpaid on the next day is unpaid
                         (overdue), on or before it pending (not yet due)
        age            = as-of date - date of service, in days, bucketed 0-30, 31-60, 61-90,
                         90+ (91 days and more); an age below 0 (a claim dated after the
                         as-of date) is 0-30.
    `age_bucket` is the bucket of an overdue claim and "" for one still pending.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

WILDCARD = "*"

# reimbursement bases
TRUST = "trust"
AWP_MINUS = "awp_minus"
WAC_PLUS = "wac_plus"
MAC = "mac"
NADAC_PLUS = "nadac_plus"
BASES: dict[str, str] = {
    TRUST: "Trust adjudication",
    AWP_MINUS: "AWP minus %",
    WAC_PLUS: "WAC plus %",
    MAC: "MAC",
    NADAC_PLUS: "NADAC plus %",
}
# bases whose percent means something (the others take 0)
PERCENT_BASES = frozenset({AWP_MINUS, WAC_PLUS, NADAC_PLUS})

FFS = "ffs"
VALUE_BASED = "value_based"
CONTRACT_TYPES: dict[str, str] = {FFS: "Fee-for-service", VALUE_BASED: "Value-based"}

BUCKETS = ("0-30", "31-60", "61-90", "90+")

_HUNDRED = Decimal(100)


# -- terms and facts ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanKey:
    """A plan as a claim names it."""

    bin: str
    pcn: str
    group: str


@dataclass(frozen=True, slots=True)
class Reimbursement:
    """How one class of drug (brand or generic) is priced."""

    basis: str = TRUST
    percent: Decimal = Decimal(0)  # AWP minus x, WAC plus x, NADAC plus x (percent)
    dispensing_fee_cents: int = 0


@dataclass(frozen=True, slots=True)
class FeeTerms:
    """What the PBM is expected to charge after the claim (see the module docstring)."""

    per_claim_cents: int = 0
    pct_of_ingredient: Decimal = Decimal(0)
    pct_of_plan_paid: Decimal = Decimal(0)
    generic_effective_rate: Decimal | None = None  # target "AWP - t%" for generics, t
    brand_effective_rate: Decimal | None = None  # the same for brands


@dataclass(frozen=True, slots=True)
class PaymentTerms:
    """When a plan pays. With a pay cycle the plan pays on cycle days only (every
    `cycle_days` from `cycle_anchor`, one of its pay days): a claim is due on the first pay
    day at least `days_to_pay` after its date of service."""

    days_to_pay: int
    grace_days: int = 0
    cycle_days: int = 0
    cycle_anchor: date | None = None


# Without a contract the engine has to assume something: the common "30 days" of a clean
# claim, no grace.
DEFAULT_PAYMENT = PaymentTerms(days_to_pay=30, grace_days=0)


@dataclass(frozen=True, slots=True)
class ContractTerms:
    """One version of a payer contract, as the engine reads it."""

    contract_id: int
    bin: str
    pcn: str  # "*" or blank: any
    group: str  # "*" or blank: any
    effective_from: date
    effective_to: date | None = None  # inclusive; None: open
    contract_type: str = FFS
    brand: Reimbursement = field(default_factory=Reimbursement)
    generic: Reimbursement = field(default_factory=Reimbursement)
    lesser_of_usual: bool = True
    fees: FeeTerms = field(default_factory=FeeTerms)
    payment: PaymentTerms = DEFAULT_PAYMENT
    name: str = ""

    def reimbursement_for(self, *, is_brand: bool) -> Reimbursement:
        return self.brand if is_brand else self.generic


@dataclass(frozen=True, slots=True)
class ClaimFacts:
    """What the claim's adjudication said (NCPDP response fields), in cents."""

    date_of_service: date
    is_brand: bool
    quantity: Decimal
    ingredient_cost_paid_cents: int  # 506-F6
    dispensing_fee_paid_cents: int  # 507-F7
    patient_pay_cents: int  # 505-F5
    total_paid_cents: int  # 509-F9, the plan paid
    usual_customary_cents: int = 0  # 426-DQ; 0: unknown


@dataclass(frozen=True, slots=True)
class UnitPrices:
    """Unit prices of the claim's NDC on its date of service; None: not known."""

    nadac: Decimal | None = None
    awp: Decimal | None = None
    wac: Decimal | None = None
    mac: Decimal | None = None


NO_PRICES = UnitPrices()


@dataclass(frozen=True, slots=True)
class Expected:
    cents: int | None  # the expected plan paid; None: a price the basis needs is missing
    basis: str
    ingredient_cents: int | None
    dispensing_fee_cents: int
    capped_at_usual: bool = False
    ingredient_from_claim: bool = False  # MAC without a MAC price: the adjudicated ingredient
    missing: str = ""  # "NADAC", "AWP", "WAC" when that price was needed and unknown


@dataclass(frozen=True, slots=True)
class FeeEstimate:
    per_claim_cents: int
    ingredient_pct_cents: int
    plan_paid_pct_cents: int
    effective_rate_cents: int | None  # None: no target for the class, or no AWP price

    @property
    def total_cents(self) -> int:
        return (
            self.per_claim_cents
            + self.ingredient_pct_cents
            + self.plan_paid_pct_cents
            + (self.effective_rate_cents or 0)
        )


@dataclass(frozen=True, slots=True)
class Aging:
    age_days: int
    bucket: str  # by age from the date of service, whether or not the claim is overdue
    due_on: date
    overdue_after: date
    overdue: bool


# -- plan matching ------------------------------------------------------------------------------


def normalize_code(value: str) -> str:
    """PCN / group as stored and compared: trimmed, upper case, blank meaning any (`*`)."""
    value = (value or "").strip().upper()
    return value or WILDCARD


def _wild(value: str) -> bool:
    return normalize_code(value) == WILDCARD


def rule_matches(rule_bin: str, rule_pcn: str, rule_group: str, plan: PlanKey) -> bool:
    """BIN equal; PCN and group equal or wildcard (case-insensitive, trimmed)."""
    return (
        rule_bin.strip() == plan.bin.strip()
        and (_wild(rule_pcn) or normalize_code(rule_pcn) == normalize_code(plan.pcn))
        and (_wild(rule_group) or normalize_code(rule_group) == normalize_code(plan.group))
    )


def specificity(pcn: str, group: str) -> int:
    """3: PCN and group named; 2: group named; 1: PCN named; 0: neither."""
    return 2 * (not _wild(group)) + (not _wild(pcn))


def in_effect(contract: ContractTerms, on: date) -> bool:
    return contract.effective_from <= on and (
        contract.effective_to is None or on <= contract.effective_to
    )


def contract_for(
    plan: PlanKey, on: date, contracts: Iterable[ContractTerms]
) -> ContractTerms | None:
    """The contract version that prices a claim of `plan` dated `on` (module docstring)."""
    best: ContractTerms | None = None
    best_key: tuple[int, int, int] | None = None
    for c in contracts:
        if not in_effect(c, on) or not rule_matches(c.bin, c.pcn, c.group, plan):
            continue
        key = (specificity(c.pcn, c.group), -c.effective_from.toordinal(), -c.contract_id)
        if best_key is None or key > best_key:
            best, best_key = c, key
    return best


def same_key(a: tuple[str, str, str], b: tuple[str, str, str]) -> bool:
    """Two (BIN, PCN, group) rules are versions of one contract."""
    return a[0].strip() == b[0].strip() and all(
        normalize_code(x) == normalize_code(y) for x, y in zip(a[1:], b[1:], strict=True)
    )


def periods_overlap(a_from: date, a_to: date | None, b_from: date, b_to: date | None) -> bool:
    """Whether two inclusive periods (None: open end) share a day."""
    return a_from <= (b_to or date.max) and b_from <= (a_to or date.max)


# -- money --------------------------------------------------------------------------------------


def round_cents(amount: Decimal) -> int:
    """Decimal cents to whole cents, half-up (halves away from zero)."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _pct_of(amount_cents: int, percent: Decimal) -> int:
    return round_cents(Decimal(amount_cents) * percent / _HUNDRED)


def _ingredient_cents(unit: Decimal, quantity: Decimal, factor: Decimal) -> int:
    """unit price (dollars) x quantity x factor, in cents rounded half-up."""
    return round_cents(unit * quantity * factor * _HUNDRED)


def expected_reimbursement(
    claim: ClaimFacts, terms: ContractTerms, prices: UnitPrices = NO_PRICES
) -> Expected:
    """What the contract says the plan should have paid for `claim` (module docstring)."""
    rule = terms.reimbursement_for(is_brand=claim.is_brand)
    if rule.basis == TRUST:
        return Expected(
            cents=claim.total_paid_cents,
            basis=TRUST,
            ingredient_cents=claim.ingredient_cost_paid_cents,
            dispensing_fee_cents=claim.dispensing_fee_paid_cents,
        )
    pct = rule.percent / _HUNDRED
    unit: Decimal | None
    from_claim = False
    if rule.basis == AWP_MINUS:
        unit, factor, name = prices.awp, 1 - pct, "AWP"
    elif rule.basis == WAC_PLUS:
        unit, factor, name = prices.wac, 1 + pct, "WAC"
    elif rule.basis == NADAC_PLUS:
        unit, factor, name = prices.nadac, 1 + pct, "NADAC"
    elif rule.basis == MAC:
        unit, factor, name = prices.mac, Decimal(1), "MAC"
    else:
        raise ValueError(f"unknown reimbursement basis {rule.basis!r}")
    ingredient: int
    if unit is not None:
        ingredient = _ingredient_cents(unit, claim.quantity, factor)
    elif rule.basis == MAC:
        ingredient, from_claim = claim.ingredient_cost_paid_cents, True
    else:
        return Expected(
            cents=None,
            basis=rule.basis,
            ingredient_cents=None,
            dispensing_fee_cents=rule.dispensing_fee_cents,
            missing=name,
        )
    gross = ingredient + rule.dispensing_fee_cents
    capped = terms.lesser_of_usual and 0 < claim.usual_customary_cents < gross
    if capped:
        gross = claim.usual_customary_cents
    return Expected(
        cents=max(0, gross - claim.patient_pay_cents),
        basis=rule.basis,
        ingredient_cents=ingredient,
        dispensing_fee_cents=rule.dispensing_fee_cents,
        capped_at_usual=capped,
        ingredient_from_claim=from_claim,
    )


def expected_reimbursement_cents(
    claim: ClaimFacts, terms: ContractTerms, prices: UnitPrices = NO_PRICES
) -> int | None:
    """The expected plan paid in cents; None when a price the basis needs is unknown."""
    return expected_reimbursement(claim, terms, prices).cents


def fee_estimate(
    claim: ClaimFacts, terms: ContractTerms, prices: UnitPrices = NO_PRICES
) -> FeeEstimate:
    """The fees the contract's fee terms predict for `claim`, part by part."""
    fees = terms.fees
    target = fees.brand_effective_rate if claim.is_brand else fees.generic_effective_rate
    effective: int | None = None
    if target is not None and prices.awp is not None:
        target_cents = _ingredient_cents(prices.awp, claim.quantity, 1 - target / _HUNDRED)
        effective = claim.ingredient_cost_paid_cents - target_cents
    return FeeEstimate(
        per_claim_cents=fees.per_claim_cents,
        ingredient_pct_cents=_pct_of(claim.ingredient_cost_paid_cents, fees.pct_of_ingredient),
        plan_paid_pct_cents=_pct_of(claim.total_paid_cents, fees.pct_of_plan_paid),
        effective_rate_cents=effective,
    )


def estimated_fees_cents(
    claim: ClaimFacts, terms: ContractTerms, prices: UnitPrices = NO_PRICES
) -> int:
    """The estimated fees in cents (the sum of `fee_estimate`'s parts)."""
    return fee_estimate(claim, terms, prices).total_cents


# -- payment terms ------------------------------------------------------------------------------


def due_date(date_of_service: date, terms: PaymentTerms) -> date:
    """Date of service + days to pay; with a pay cycle, the first pay day on or after it."""
    earliest = date_of_service + timedelta(days=terms.days_to_pay)
    if terms.cycle_days <= 0 or terms.cycle_anchor is None:
        return earliest
    cycles = -(-(earliest - terms.cycle_anchor).days // terms.cycle_days)
    return terms.cycle_anchor + timedelta(days=cycles * terms.cycle_days)


def overdue_after(date_of_service: date, terms: PaymentTerms) -> date:
    """The last day an unpaid claim is still pending: due date + grace days."""
    return due_date(date_of_service, terms) + timedelta(days=terms.grace_days)


def is_overdue(as_of: date, date_of_service: date, terms: PaymentTerms) -> bool:
    return as_of > overdue_after(date_of_service, terms)


def bucket_for_age(age_days: int) -> str:
    """0-30, 31-60, 61-90 or 90+ (91 days and more); below 0 counts as 0."""
    if age_days <= 30:
        return BUCKETS[0]
    if age_days <= 60:
        return BUCKETS[1]
    if age_days <= 90:
        return BUCKETS[2]
    return BUCKETS[3]


def aging(as_of: date, date_of_service: date, terms: PaymentTerms) -> Aging:
    age = (as_of - date_of_service).days
    return Aging(
        age_days=age,
        bucket=bucket_for_age(age),
        due_on=due_date(date_of_service, terms),
        overdue_after=overdue_after(date_of_service, terms),
        overdue=is_overdue(as_of, date_of_service, terms),
    )


def age_bucket(as_of: date, date_of_service: date, terms: PaymentTerms) -> str:
    """The age bucket of an unpaid claim once it is overdue; "" while it is pending."""
    a = aging(as_of, date_of_service, terms)
    return a.bucket if a.overdue else ""


# -- the terms in words (contract pages) --------------------------------------------------------


def _dollars(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) // 100:,}.{abs(cents) % 100:02d}"


def _pct(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return f"{text}%"


def reimbursement_in_words(rule: Reimbursement, *, lesser_of_usual: bool) -> str:
    """One basis as a formula a person can check a claim against."""
    if rule.basis == TRUST:
        return "The plan paid at adjudication is taken as correct (no contract price check)."
    fee = f" + {_dollars(rule.dispensing_fee_cents)} dispensing fee"
    if rule.basis == AWP_MINUS:
        ingredient = f"AWP per unit x quantity x (1 - {_pct(rule.percent)})"
    elif rule.basis == WAC_PLUS:
        ingredient = f"WAC per unit x quantity x (1 + {_pct(rule.percent)})"
    elif rule.basis == NADAC_PLUS:
        sign = "-" if rule.percent < 0 else "+"
        ingredient = f"NADAC per unit x quantity x (1 {sign} {_pct(abs(rule.percent))})"
    else:
        ingredient = (
            "MAC per unit x quantity (the adjudicated ingredient cost when the MAC price "
            "is not known)"
        )
    cap = ", or the usual & customary price if lower," if lesser_of_usual else ""
    return f"{ingredient}{fee}{cap} - patient pay = expected plan paid."


def reimbursement_short(rule: Reimbursement) -> str:
    """One basis in a few characters, for lists: "AWP - 17% + $1.25"."""
    if rule.basis == TRUST:
        return "Trust adjudication"
    fee = f" + {_dollars(rule.dispensing_fee_cents)}" if rule.dispensing_fee_cents else ""
    if rule.basis == MAC:
        return f"MAC{fee}"
    name = {AWP_MINUS: "AWP", WAC_PLUS: "WAC", NADAC_PLUS: "NADAC"}[rule.basis]
    minus = (rule.basis == AWP_MINUS) != (rule.percent < 0)
    percent = f" {'-' if minus else '+'} {_pct(abs(rule.percent))}" if rule.percent else ""
    return f"{name}{percent}{fee}"


def fees_short(fees: FeeTerms) -> str:
    parts = []
    if fees.per_claim_cents:
        parts.append(f"{_dollars(fees.per_claim_cents)}/claim")
    if fees.pct_of_ingredient:
        parts.append(f"{_pct(fees.pct_of_ingredient)} of ingredient")
    if fees.pct_of_plan_paid:
        parts.append(f"{_pct(fees.pct_of_plan_paid)} of plan paid")
    if fees.generic_effective_rate is not None or fees.brand_effective_rate is not None:
        parts.append("effective-rate true-up")
    return ", ".join(parts) or "none"


def fees_in_words(fees: FeeTerms) -> list[str]:
    """The fee terms, one line each; empty when the contract expects no fees."""
    lines = []
    if fees.per_claim_cents:
        lines.append(f"{_dollars(fees.per_claim_cents)} per paid claim.")
    if fees.pct_of_ingredient:
        lines.append(f"{_pct(fees.pct_of_ingredient)} of the ingredient cost paid.")
    if fees.pct_of_plan_paid:
        lines.append(f"{_pct(fees.pct_of_plan_paid)} of the plan paid.")
    for label, target in (
        ("generic", fees.generic_effective_rate),
        ("brand", fees.brand_effective_rate),
    ):
        if target is not None:
            lines.append(
                f"Effective-rate true-up on {label}s: ingredient cost paid - AWP per unit x "
                f"quantity x (1 - {_pct(target)}) (a credit when paid below the target)."
            )
    return lines


def payment_in_words(terms: PaymentTerms) -> str:
    grace = f", unpaid (overdue) {terms.grace_days} days later" if terms.grace_days else ""
    cycle = (
        f" on the first pay day (every {terms.cycle_days} days from "
        f"{terms.cycle_anchor:%b %-d, %Y}) on or after"
        if terms.cycle_days and terms.cycle_anchor
        else " after"
    )
    return (
        f"Due {terms.days_to_pay} days{cycle} the date of service{grace}; "
        "aged 0-30 / 31-60 / 61-90 / 90+ days from the date of service."
    )
