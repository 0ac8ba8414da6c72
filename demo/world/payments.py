"""What the payers did with the claims: 835 payments, take-backs, fee statements, and the
status each claim should end up with in reconciliation (the ground truth)."""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from demo.world.catalog import DRUG_BY_NDC, PAYER_BY_KEY
from demo.world.model import (
    Claim,
    FeeLine,
    Patient,
    Payer,
    ProviderAdjustment,
    RemitAdjustment,
    RemitClaim,
    Remittance,
)


def pct_of(amount_cents: int, pct: Decimal) -> int:
    """`pct` (a fraction) of an amount in cents, rounded half up to a cent."""
    return int((Decimal(amount_cents) * pct).quantize(Decimal(1), rounding=ROUND_HALF_UP))


ClaimKey = tuple[str, int, int, date, str]

# expected reconciliation status of a billed claim (B1/B3)
PAID = "paid"
SHORT_PAID = "short_paid"
UNPAID = "unpaid"  # past its payment window with nothing remitted
PENDING = "pending"  # not due yet
REVERSED = "reversed"  # reversed by the pharmacy and by the payer: nets to zero
REVERSED_BUT_PAID = "reversed_but_paid"  # pharmacy reversed it, payer's payment stands
RECOUPED = "recouped"  # payer took the payment back without a pharmacy reversal
OVERPAID = "overpaid"  # paid twice
CASH = "cash"
REVERSAL = "reversal"  # the B2 row itself


@dataclass
class Ledger:
    """Payments per claim as the simulation makes them."""

    remits: dict[tuple[str, str, date], Remittance] = field(default_factory=dict)
    paid: dict[ClaimKey, int] = field(default_factory=dict)
    dir_fees: dict[ClaimKey, int] = field(default_factory=dict)
    plb_recouped: dict[ClaimKey, int] = field(default_factory=dict)

    def remit(self, payer: Payer, location: str, day: date) -> Remittance:
        key = (payer.key, location, day)
        if key not in self.remits:
            self.remits[key] = Remittance(
                payer=payer.key,
                location=location,
                payment_date=day,
                trace_number=_trace_number(payer, location, day),
            )
        return self.remits[key]


def _trace_number(payer: Payer, location: str, day: date) -> str:
    """The EFT trace (TRN02): unique per payment from one payer id. Two plans of one PBM
    share the payer id (Keystone A and B) and pay separately, so the plan is in the trace."""
    plan = zlib.crc32(payer.key.encode()) % 1000
    return f"{payer.payer_id[-4:]}{plan:03d}{location[-3:]}{day:%y%m%d}"


def pay_day(payer: Payer, earliest: date, year: int) -> date:
    """The first payment cycle on or after `earliest`. Cycles run on Fridays from the first
    Friday of the year, every `pay_cycle_days`."""
    first = date(year, 1, 1)
    first += timedelta(days=(4 - first.weekday()) % 7)
    if earliest <= first:
        return first
    cycles = -(-(earliest - first).days // payer.pay_cycle_days)
    return first + timedelta(days=cycles * payer.pay_cycle_days)


def _remit_claim(
    claim: Claim,
    patient: Patient,
    *,
    paid: int,
    extra: tuple[RemitAdjustment, ...] = (),
    reversal: bool = False,
) -> RemitClaim:
    charge = claim.usual_customary_cents
    adjustments = [RemitAdjustment("PR", "3", claim.patient_pay_cents)]
    contractual = charge - claim.patient_pay_cents - claim.total_paid_cents
    if contractual:
        adjustments.append(RemitAdjustment("CO", "90", contractual))
    adjustments.extend(extra)
    adjustments = [a for a in adjustments if a.amount_cents]
    sign = -1 if reversal else 1
    return RemitClaim(
        claim_key=claim.key,
        rx_ref=claim.rx_ref,
        status="22" if reversal else "1",
        charge_cents=sign * charge,
        paid_cents=sign * paid,
        patient_resp_cents=sign * claim.patient_pay_cents,
        payer_claim_id=claim.authorization,
        ndc=claim.ndc,
        quantity=claim.quantity,
        date_of_service=claim.date_of_service,
        adjustments=tuple(
            RemitAdjustment(a.group, a.reason, sign * a.amount_cents) for a in adjustments
        ),
        patient_last=patient.last_name.upper(),
        patient_first=patient.first_name.upper(),
        cardholder_id=patient.cardholder_id,
    )


def settle(
    seed: str,
    claims: list[Claim],
    patients: dict[tuple[str, str], Patient],
    *,
    year: int,
    as_of: date,
) -> tuple[list[Remittance], list[FeeLine], dict[ClaimKey, str]]:
    """Decide, claim by claim, what each payer paid and when; return the remittances, the
    fee-statement lines and the expected status per claim.

    Every claim draws from a random stream of its own (seeded by `seed` and its key), so a
    claim's fate does not depend on which other claims exist: a world simulated to an
    earlier as-of date is a consistent prefix of a later one."""
    ledger = Ledger()
    truth: dict[ClaimKey, str] = {}
    reversal_of: dict[tuple[str, int, int, date], Claim] = {
        (c.location, c.rx_number, c.fill_number, c.date_of_service): c
        for c in claims
        if c.transaction == "B2"
    }
    for claim in claims:
        if claim.transaction == "B2":
            truth[claim.key] = REVERSAL
            continue
        payer = PAYER_BY_KEY[claim.payer]
        if payer.plan_type == "cash":
            truth[claim.key] = CASH
            continue
        patient = patients[(claim.location, claim.patient_id)]
        reversed_by = (
            reversal_of.get(
                (claim.location, claim.rx_number, claim.fill_number, claim.date_of_service)
            )
            if claim.transaction == "B1"
            else None
        )
        truth[claim.key] = _settle_one(
            _stream(seed, "pay", claim.key),
            ledger,
            claim,
            patient,
            payer,
            reversed_by,
            year=year,
            as_of=as_of,
        )
    remittances = [r for r in ledger.remits.values() if r.claims]
    _add_provider_adjustments(seed, remittances, ledger, claims, truth)
    fees = _fee_statements(seed, claims, truth, year=year, as_of=as_of)
    remittances.sort(key=lambda r: (r.payment_date, r.payer, r.location))
    return remittances, fees, truth


def _settle_one(
    rng: random.Random,
    ledger: Ledger,
    claim: Claim,
    patient: Patient,
    payer: Payer,
    reversed_by: Claim | None,
    *,
    year: int,
    as_of: date,
) -> str:
    due = pay_day(payer, claim.date_of_service + timedelta(days=payer.pay_lag_days), year)
    if reversed_by is not None and reversed_by.transaction_date < due:
        # reversed before the payer's cycle: most payers list the original and its reversal
        # together on that cycle's remit (netting to zero); some leave both off
        if due <= as_of and rng.random() < 0.85:
            remit = ledger.remit(payer, claim.location, due)
            remit.claims.append(_remit_claim(claim, patient, paid=claim.total_paid_cents))
            remit.claims.append(
                _remit_claim(claim, patient, paid=claim.total_paid_cents, reversal=True)
            )
        return REVERSED
    if due > as_of:
        return PENDING
    if rng.random() < payer.never_pay_rate:
        if reversed_by is not None:
            return REVERSED  # the pharmacy reversed it before anyone paid: nothing is owed
        late = due + timedelta(days=payer.pay_cycle_days * 2)
        return UNPAID if late <= as_of else PENDING
    paid = claim.total_paid_cents
    extra: list[RemitAdjustment] = []
    status = PAID
    if payer.dir_on_claim and claim.ingredient_cost_paid_cents > 0:
        dir_fee = min(max(pct_of(claim.ingredient_cost_paid_cents, Decimal("0.03")), 12), paid)
        if dir_fee:
            extra.append(RemitAdjustment("CO", "295", dir_fee))
            ledger.dir_fees[claim.key] = dir_fee
            paid -= dir_fee
    if rng.random() < payer.short_pay_rate and paid > 100:
        share = Decimal(str(round(rng.uniform(0.05, 0.25), 3)))
        short = min(max(50, pct_of(claim.ingredient_cost_paid_cents, share)), paid - 1)
        # paid below the adjudicated amount: "charge exceeds fee schedule/maximum allowable"
        extra.append(RemitAdjustment("CO", "45", short))
        paid -= short
        status = SHORT_PAID
    ledger.remit(payer, claim.location, due).claims.append(
        _remit_claim(claim, patient, paid=paid, extra=tuple(extra))
    )
    ledger.paid[claim.key] = paid
    if rng.random() < payer.duplicate_rate:
        again = due + timedelta(days=payer.pay_cycle_days)
        if again <= as_of:
            ledger.remit(payer, claim.location, again).claims.append(
                _remit_claim(claim, patient, paid=paid, extra=tuple(extra))
            )
            status = OVERPAID
    if reversed_by is not None:
        # the payer reverses one payment; a duplicate payment still stands
        if rng.random() < payer.reversal_ignored_rate:
            return OVERPAID if status == OVERPAID else REVERSED_BUT_PAID
        back = pay_day(payer, reversed_by.transaction_date + timedelta(days=3), year)
        if back <= as_of:
            ledger.remit(payer, claim.location, back).claims.append(
                _remit_claim(claim, patient, paid=paid, extra=tuple(extra), reversal=True)
            )
            return REVERSED_BUT_PAID if status == OVERPAID else REVERSED
        return OVERPAID if status == OVERPAID else REVERSED_BUT_PAID
    if status == PAID and rng.random() < payer.clawback_rate:
        back = pay_day(payer, due + timedelta(days=42), year)  # six weeks later
        if back <= as_of:
            ledger.remit(payer, claim.location, back).claims.append(
                _remit_claim(claim, patient, paid=paid, extra=tuple(extra), reversal=True)
            )
            return RECOUPED
    return status


def _stream(seed: str, purpose: str, key: object) -> random.Random:
    return random.Random(f"{seed}|{purpose}|{key}")


def _add_provider_adjustments(
    seed: str,
    remittances: list[Remittance],
    ledger: Ledger,
    claims: list[Claim],
    truth: dict[ClaimKey, str],
) -> None:
    """PLB: transaction fees per claim paid, interest on Medicaid cycles, audit recoupments
    of an earlier payment (which makes that claim recouped), and forward balances: a cycle
    whose take-backs exceed its payments pays zero and carries the rest to the next one."""
    carried: dict[tuple[str, str], int] = {}
    for remit in sorted(remittances, key=lambda r: (r.payer, r.location, r.payment_date)):
        rng = _stream(seed, "plb", (remit.payer, remit.location, remit.payment_date))
        payer = PAYER_BY_KEY[remit.payer]
        key = (remit.payer, remit.location)
        if carried.get(key):
            remit.provider_adjustments.append(
                ProviderAdjustment("FB", f"BAL{remit.location}", carried.pop(key))
            )
        paid_lines = sum(1 for c in remit.claims if c.status == "1")
        if payer.transaction_fee_cents and paid_lines:
            remit.provider_adjustments.append(
                ProviderAdjustment(
                    "CS",
                    f"TXNFEE{remit.payment_date:%m%d}",
                    payer.transaction_fee_cents * paid_lines,
                )
            )
        if payer.plan_type == "medicaid" and rng.random() < 0.25:
            remit.provider_adjustments.append(
                ProviderAdjustment("L6", f"INT{remit.payment_date:%y%m}", -rng.randint(5, 250))
            )
        if payer.plan_type != "medicaid" and rng.random() < 0.04:
            candidates = [
                c for c in remit.claims if c.status == "1" and truth.get(c.claim_key) == PAID
            ]
            if candidates:
                victim = candidates[rng.randrange(len(candidates))]
                amount = ledger.paid[victim.claim_key]
                if 0 < amount < remit.paid_cents:  # recoup only from a payment that covers it
                    remit.provider_adjustments.append(
                        ProviderAdjustment("WO", victim.payer_claim_id, amount)
                    )
                    ledger.plb_recouped[victim.claim_key] = amount
                    truth[victim.claim_key] = RECOUPED
        if remit.paid_cents < 0:
            owed = -remit.paid_cents
            remit.provider_adjustments.append(
                ProviderAdjustment("FB", f"BAL{remit.location}", -owed)
            )
            carried[key] = owed


def _fee_statements(
    seed: str,
    claims: list[Claim],
    truth: dict[ClaimKey, str],
    *,
    year: int,
    as_of: date,
) -> list[FeeLine]:
    """Monthly PBM statements, about six weeks after the month closes: performance and
    network fees per claim, and quarterly generic effective-rate true-ups."""
    lines: list[FeeLine] = []
    for claim in claims:
        if claim.transaction == "B2" or truth[claim.key] in (CASH, REVERSED):
            continue
        payer = PAYER_BY_KEY[claim.payer]
        dos = claim.date_of_service
        month_end = date(dos.year + dos.month // 12, dos.month % 12 + 1, 1)
        statement = month_end + timedelta(days=44)
        if statement > as_of:
            continue
        if payer.performance_fee_pct:
            amount = pct_of(claim.ingredient_cost_paid_cents, payer.performance_fee_pct)
            earned_back = _stream(seed, "fee", claim.key).random() < 0.12
            if payer.contract == "value_based" and earned_back:
                amount = -max(amount, 25)  # earned back: an incentive payment
            if amount:
                lines.append(
                    FeeLine(
                        statement, payer.key, claim.key, claim.authorization, "performance", amount
                    )
                )
        if payer.network_fee_cents:
            lines.append(
                FeeLine(
                    statement,
                    payer.key,
                    claim.key,
                    claim.authorization,
                    "network",
                    payer.network_fee_cents,
                )
            )
        if payer.plan_type == "commercial" and not DRUG_BY_NDC[claim.ndc].is_brand:
            quarter_end_month = ((dos.month - 1) // 3 + 1) * 3
            q_end = date(dos.year + quarter_end_month // 12, quarter_end_month % 12 + 1, 1)
            true_up_day = q_end + timedelta(days=45)
            if true_up_day <= as_of:
                amount = pct_of(claim.ingredient_cost_paid_cents, Decimal("0.04"))
                if amount:
                    lines.append(
                        FeeLine(
                            true_up_day,
                            payer.key,
                            claim.key,
                            claim.authorization,
                            "effective_rate_true_up",
                            amount,
                        )
                    )
    lines.sort(
        key=lambda f: (
            f.statement_date,
            f.payer,
            f.claim_key[0],
            f.claim_key[1],
            f.claim_key[2],
            f.fee_type,
        )
    )
    return lines


def remitted_by_claim(remittances: list[Remittance]) -> dict[ClaimKey, int]:
    out: dict[ClaimKey, int] = {}
    for remit in remittances:
        for c in remit.claims:
            out[c.claim_key] = out.get(c.claim_key, 0) + c.paid_cents
    return out


def dir_by_claim(remittances: list[Remittance]) -> dict[ClaimKey, int]:
    out: dict[ClaimKey, int] = {}
    for remit in remittances:
        for c in remit.claims:
            for a in c.adjustments:
                if a.reason == "295":
                    out[c.claim_key] = out.get(c.claim_key, 0) + a.amount_cents
    return out


def plb_recouped(remittances: list[Remittance]) -> dict[str, int]:
    """WO recoupments by payer claim id (the PLB reference)."""
    out: dict[str, int] = {}
    for remit in remittances:
        for a in remit.provider_adjustments:
            if a.reason == "WO":
                out[a.reference] = out.get(a.reference, 0) + a.amount_cents
    return out
