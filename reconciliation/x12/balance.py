"""The 835 balancing rules (TR3 section 1.10.2.1), checked, never repaired.

- each service line: SVC02 - SVC03 = the sum of its CAS amounts;
- each claim: CLP03 - CLP04 = the sum of all its CAS amounts, claim and line level (patient
  responsibility is one of them, as group PR);
- the transaction: BPR02 = the sum of CLP04 less the sum of the PLB amounts.

A record is "balanced" only when the check could be made and passed: an unreadable amount
leaves it unbalanced (its own issue says why) rather than assumed fine.
"""

from __future__ import annotations

from typing import Protocol

from reconciliation.x12.issues import ERROR, Issue, Severity
from reconciliation.x12.records import ClaimPayment, Remittance, ServicePayment
from reconciliation.x12.values import dollars


class Report(Protocol):
    def __call__(
        self,
        severity: Severity,
        code: str,
        message: str,
        segment: int | None,
        segment_id: str | None,
        *,
        element: str | None = ...,
        expected: str | None = ...,
        found: str | None = ...,
        loop: str | None = ...,
    ) -> Issue: ...


def check_balances(
    remit: Remittance, report: Report, *, bpr_segment: int | None, payment_readable: bool
) -> bool:
    """Check every line, claim and the payment; report what fails. True when all balance."""
    balanced = True
    for claim in remit.claims:
        for line in claim.services:
            balanced = _line_balances(claim, line, report) and balanced
        balanced = _claim_balances(claim, report) and balanced
    return _payment_balances(remit, report, bpr_segment, payment_readable) and balanced


def _line_balances(claim: ClaimPayment, line: ServicePayment, report: Report) -> bool:
    if not line.balanced or line.charge_cents is None or line.paid_cents is None:
        line.balanced = False
        return False
    adjusted = sum(a.amount_cents for a in line.adjustments)
    owed = line.charge_cents - line.paid_cents
    if owed == adjusted:
        return True
    line.balanced = False
    report(
        ERROR,
        "unbalanced-line",
        f"Service line {line.qualifier}:{line.code} of claim {claim.claim_ref}: charge "
        f"{dollars(line.charge_cents)} less paid {dollars(line.paid_cents)} is "
        f"{dollars(owed)}, but its adjustments (CAS) total {dollars(adjusted)}; "
        f"{dollars(owed - adjusted)} is unaccounted for.",
        line.segment,
        "SVC",
        element="SVC03",
        expected=dollars(owed),
        found=dollars(adjusted),
        loop="2110",
    )
    return False


def _claim_balances(claim: ClaimPayment, report: Report) -> bool:
    if not claim.balanced or claim.charge_cents is None or claim.paid_cents is None:
        claim.balanced = False
        return False
    adjusted = sum(a.amount_cents for a in claim.adjustments) + sum(
        a.amount_cents for line in claim.services for a in line.adjustments
    )
    owed = claim.charge_cents - claim.paid_cents
    if owed == adjusted:
        return True
    claim.balanced = False
    report(
        ERROR,
        "unbalanced-claim",
        f"Claim {claim.claim_ref}: charge {dollars(claim.charge_cents)} less paid "
        f"{dollars(claim.paid_cents)} is {dollars(owed)}, but its adjustments (CAS, claim and "
        f"line) total {dollars(adjusted)}; {dollars(owed - adjusted)} is unaccounted for.",
        claim.segment,
        "CLP",
        element="CLP04",
        expected=dollars(owed),
        found=dollars(adjusted),
        loop="2100",
    )
    return False


def _payment_balances(
    remit: Remittance, report: Report, bpr_segment: int | None, payment_readable: bool
) -> bool:
    if bpr_segment is None or remit.paid_cents is None or not payment_readable:
        return False
    expected = remit.claim_paid_cents - remit.provider_adjustment_cents
    if expected == remit.paid_cents:
        return True
    report(
        ERROR,
        "unbalanced-payment",
        f"The payment (BPR02) is {dollars(remit.paid_cents)}, but the claims pay "
        f"{dollars(remit.claim_paid_cents)} less {dollars(remit.provider_adjustment_cents)} of "
        f"provider adjustments (PLB), which is {dollars(expected)}; "
        f"{dollars(remit.paid_cents - expected)} is unaccounted for.",
        bpr_segment,
        "BPR",
        element="BPR02",
        expected=dollars(expected),
        found=dollars(remit.paid_cents),
        loop="header",
    )
    return False
