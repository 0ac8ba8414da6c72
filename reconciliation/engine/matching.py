"""Claim <-> 835 matching and the per-claim result: the readable reference path.

Plain rows in, plain rows out. The rules, in the order they are applied:

**Which claim a payment pays** (each 835 claim payment, CLP, is matched to one PMS claim):
1. By the payer's claim reference: CLP07 equal to the claim's authorization number
   (NCPDP 503-F3), when exactly one original claim (B1/B3) of the organization carries it.
2. Else by CLP01, which pharmacies fill with the Rx number and fill: `2200057-00`,
   `2200057-0`, `2200057/1`, `2200057 01`, `RX2200057-01` and a bare `2200057` (any fill) are
   read; with the date of service (DTM*472 or DTM*232) and the paid store (the remittance's
   payee), when exactly one original claim fits. A remittance with no known payee store
   searches every store of the organization and still needs exactly one claim. When a claim
   was reversed and rebilled under the same Rx, fill and day, the live one is paid.
3. Else the payment stays unmatched, with the reason, and is kept (never dropped).

**PLB** (provider-level adjustments): an amount whose reference (PLB03-2) is a claim's
authorization number is tied to that claim: a take-back (WO overpayment recovery, 72
authorized return) makes it recouped, any other reason is a fee on it.
Forward balances (FB) are carried between checks and belong to no claim. Everything else (fees,
interest) is allocated to the remittance's matched claims pro rata to what each was paid,
largest remainder to the cent, and marked allocated. So, per remittance, to the cent:
Σ CLP04 = Σ matched + Σ unmatched, and BPR02 = Σ CLP04 - Σ tied - Σ allocated - Σ carried.

**Status of an original claim** (B1/B3); a reversal transaction (B2) is `reversal`, a claim
with no plan is `cash`:
- reversed in the PMS: no payment left standing → `reversed`; still paid (the payer ignored
  the reversal) → `reversed_but_paid`, or `overpaid` when more than one payment stands;
  a payment stands until a take-back (CLP02 22 or a negative CLP04) cancels it;
- a take-back of a paid claim (a CLP02 22 reversal, or a PLB tied to it) → `recouped`;
- paid more than once (two payments standing, even of $0) → `overpaid`;
- paid once: what was remitted plus what the payer withheld as DIR (CARC 295) against the
  adjudicated plan paid → `paid` (equal), `short_paid` (less), `overpaid` (more);
- never paid: `pending` until its due date (the contract's days to pay), `unpaid` after.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

# CARC 295: pharmacy direct/indirect remuneration withheld on the claim (DOMAIN.md 3.5)
DIR_REASONS = frozenset({"295"})
CARRIED_PLB = frozenset({"FB"})
# PLB reasons that take a payment back (overpayment recovery, authorized return); other PLB
# amounts tied to a claim by reference are fees on it
TAKEBACK_PLB = frozenset({"WO", "72"})
REVERSAL_STATUS = "22"
_REF = re.compile(r"^\s*(?:RX)?\s*0*(\d{1,12})\s*(?:[-/ ]\s*(\d{1,3}))?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Claim:
    fill_id: int
    location_id: int
    rx_number: int
    fill_number: int
    date_of_service: date
    transaction_code: str  # B1 bill, B2 reversal, B3 rebill
    reversed: bool  # the PMS marked the original reversed
    has_plan: bool
    authorization: str
    expected_cents: int  # plan paid at adjudication
    due_on: date  # date of service + the contract's days to pay (+ grace)


@dataclass(frozen=True)
class Payment:
    payment_id: int
    remittance_id: int
    location_id: int | None  # the remittance's payee store, when known
    claim_ref: str  # CLP01
    payer_claim_control: str  # CLP07
    status: str  # CLP02
    paid_cents: int  # CLP04 (negative on a take-back)
    service_date: date | None
    adjustments: tuple[tuple[str, str, int], ...] = ()  # CAS (group, reason, cents)


@dataclass(frozen=True)
class ProviderAdjustment:
    adjustment_id: int
    remittance_id: int
    reason: str  # PLB03-1
    reference: str  # PLB03-2
    amount_cents: int  # positive reduces the payment


@dataclass(frozen=True)
class Result:
    fill_id: int
    status: str
    matched_by: str  # authorization | rx_fill_date | ""
    payments: int
    remitted_cents: int
    recouped_cents: int
    dir_cents: int
    allocated_cents: int
    reasons: tuple[str, ...]

    @property
    def variance_cents(self) -> int:
        return self.remitted_cents - self.recouped_cents


@dataclass(frozen=True)
class Allocation:
    adjustment_id: int
    fill_id: int | None
    amount_cents: int
    allocated: bool  # by the pro-rata rule (True) or tied by reference (False)


@dataclass(frozen=True)
class Unmatched:
    payment_id: int
    reason: str


@dataclass
class Outcome:
    results: list[Result] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)
    allocations: list[Allocation] = field(default_factory=list)
    # (payment id, fill id, how it matched): what the claim's story shows
    matches: list[tuple[int, int, str]] = field(default_factory=list)


def parse_claim_ref(ref: str) -> tuple[int, int | None] | None:
    """CLP01 as (Rx number, fill or None when the payer sent the Rx number alone)."""
    m = _REF.match(ref or "")
    if not m:
        return None
    return int(m.group(1)), (int(m.group(2)) if m.group(2) is not None else None)


def _is_original(c: Claim) -> bool:
    return c.transaction_code != "B2"


def match_payments(
    claims: Sequence[Claim], payments: Iterable[Payment]
) -> tuple[dict[int, list[tuple[Payment, str]]], list[Unmatched]]:
    """{fill id: [(payment, how it matched)]} and the payments no claim was found for."""
    by_auth: dict[str, list[Claim]] = defaultdict(list)
    by_key: dict[tuple[int, int, int, date], list[Claim]] = defaultdict(list)
    by_rx_day: dict[tuple[int, int, date], list[Claim]] = defaultdict(list)
    for c in claims:
        if not _is_original(c):
            continue
        if c.authorization:
            by_auth[c.authorization].append(c)
        by_key[(c.location_id, c.rx_number, c.fill_number, c.date_of_service)].append(c)
        by_rx_day[(c.location_id, c.rx_number, c.date_of_service)].append(c)
    stores = sorted({c.location_id for c in claims})
    matched: dict[int, list[tuple[Payment, str]]] = defaultdict(list)
    unmatched: list[Unmatched] = []
    for p in payments:
        hits = by_auth.get(p.payer_claim_control.strip(), []) if p.payer_claim_control else []
        if len(hits) == 1:
            matched[hits[0].fill_id].append((p, "authorization"))
            continue
        parsed = parse_claim_ref(p.claim_ref)
        if parsed is None:
            unmatched.append(Unmatched(p.payment_id, f"CLP01 {p.claim_ref!r} is not an Rx number"))
            continue
        if p.service_date is None:
            unmatched.append(Unmatched(p.payment_id, "no date of service on the claim payment"))
            continue
        rx, fill = parsed
        found: list[Claim] = []
        for store in [p.location_id] if p.location_id is not None else stores:
            if fill is None:
                found += by_rx_day.get((store, rx, p.service_date), [])
            else:
                found += by_key.get((store, rx, fill, p.service_date), [])
        if len(found) > 1:
            # a claim reversed and rebilled under the same Rx, fill and day: the live one
            live = [c for c in found if not c.reversed]
            found = live if len(live) == 1 else found
        if len(found) == 1:
            matched[found[0].fill_id].append((p, "rx_fill_date"))
        elif not found:
            unmatched.append(
                Unmatched(
                    p.payment_id,
                    f"no claim for Rx {rx}"
                    + (f" fill {fill}" if fill is not None else "")
                    + f" on {p.service_date:%Y-%m-%d}",
                )
            )
        else:
            unmatched.append(
                Unmatched(p.payment_id, f"{len(found)} claims fit Rx {rx} on {p.service_date}")
            )
    return matched, unmatched


def allocate_plb(
    adjustments: Iterable[ProviderAdjustment],
    *,
    claims: Sequence[Claim],
    paid_by_remittance: dict[int, dict[int, int]],
) -> list[Allocation]:
    """Tie PLB amounts to claims by reference; allocate the rest pro rata (see module doc).
    `paid_by_remittance`: {remittance id: {fill id: cents paid on it}}."""
    by_auth: dict[str, list[int]] = defaultdict(list)
    for c in claims:
        if c.authorization and _is_original(c):
            by_auth[c.authorization].append(c.fill_id)
    out: list[Allocation] = []
    for a in adjustments:
        tied = by_auth.get(a.reference.strip(), []) if a.reference else []
        if len(tied) == 1:
            out.append(Allocation(a.adjustment_id, tied[0], a.amount_cents, allocated=False))
            continue
        if a.reason in CARRIED_PLB:
            out.append(Allocation(a.adjustment_id, None, a.amount_cents, allocated=False))
            continue
        shares = {f: c for f, c in paid_by_remittance.get(a.remittance_id, {}).items() if c > 0}
        if not shares:
            out.append(Allocation(a.adjustment_id, None, a.amount_cents, allocated=True))
            continue
        out += [
            Allocation(a.adjustment_id, fill, cents, allocated=True)
            for fill, cents in pro_rata(a.amount_cents, shares).items()
        ]
    return out


def pro_rata(amount: int, weights: dict[int, int]) -> dict[int, int]:
    """Split `amount` cents by `weights` exactly: floor shares, then the remaining cents one
    each to the largest remainders (ties to the lower key). Works for negative amounts."""
    sign = -1 if amount < 0 else 1
    total = sum(weights.values())
    floors = {k: abs(amount) * w // total for k, w in weights.items()}
    left = abs(amount) - sum(floors.values())
    order = sorted(weights, key=lambda k: (-(abs(amount) * weights[k] % total), k))
    for k in order[:left]:
        floors[k] += 1
    return {k: sign * v for k, v in floors.items() if v}


def claim_status(
    c: Claim, paid: Sequence[Payment], *, recouped_cents: int, dir_cents: int, as_of: date
) -> str:
    if c.transaction_code == "B2":
        return "reversal"
    if not c.has_plan:
        return "cash"
    net = sum(p.paid_cents for p in paid)
    # payments the payer still stands by: originals less the take-backs it sent (a $0 claim
    # paid twice is still a duplicate payment)
    takebacks = sum(1 for p in paid if p.status == REVERSAL_STATUS or p.paid_cents < 0)
    standing = len(paid) - 2 * takebacks
    if c.reversed:
        if standing <= 0 and net <= 0:
            return "reversed"
        return "overpaid" if standing > 1 else "reversed_but_paid"
    if not paid:
        return "unpaid" if as_of > c.due_on else "pending"
    if recouped_cents > 0 or (takebacks and standing <= 0):
        return "recouped"
    if standing > 1:
        return "overpaid"
    received = net + dir_cents
    if received == c.expected_cents:
        return "paid"
    return "short_paid" if received < c.expected_cents else "overpaid"


def reconcile(
    claims: Sequence[Claim],
    payments: Sequence[Payment],
    adjustments: Sequence[ProviderAdjustment],
    *,
    as_of: date,
) -> Outcome:
    """Every claim's result, the unmatched payments and where each PLB amount went."""
    matched, unmatched = match_payments(claims, payments)
    paid_by_remittance: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for fill, hits in matched.items():
        for p, _ in hits:
            paid_by_remittance[p.remittance_id][fill] += p.paid_cents
    allocations = allocate_plb(
        adjustments, claims=claims, paid_by_remittance=dict(paid_by_remittance)
    )
    tied: dict[int, int] = defaultdict(int)  # take-backs
    spread: dict[int, int] = defaultdict(int)  # fees: allocated, or tied that are not take-backs
    plb_reasons: dict[int, set[str]] = defaultdict(set)
    reasons_of = {a.adjustment_id: a.reason for a in adjustments}
    for a in allocations:
        if a.fill_id is None:
            continue
        takeback = not a.allocated and reasons_of[a.adjustment_id] in TAKEBACK_PLB
        (tied if takeback else spread)[a.fill_id] += a.amount_cents
        if not a.allocated:
            plb_reasons[a.fill_id].add(f"PLB {reasons_of[a.adjustment_id]}")
    out = Outcome(
        unmatched=unmatched,
        allocations=allocations,
        matches=[(p.payment_id, fill, how) for fill, hits in matched.items() for p, how in hits],
    )
    for c in claims:
        hits = matched.get(c.fill_id, [])
        paid = [p for p, _ in hits]
        dir_cents = sum(
            cents for p in paid for _, reason, cents in p.adjustments if reason in DIR_REASONS
        )
        codes = {f"{g}-{r}" for p in paid for g, r, _ in p.adjustments} | plb_reasons[c.fill_id]
        if any(p.status == REVERSAL_STATUS for p in paid):
            codes.add("CLP02 22")
        out.results.append(
            Result(
                fill_id=c.fill_id,
                status=claim_status(
                    c, paid, recouped_cents=tied[c.fill_id], dir_cents=dir_cents, as_of=as_of
                ),
                matched_by=hits[0][1] if hits else "",
                payments=len(hits),
                remitted_cents=sum(p.paid_cents for p in paid),
                recouped_cents=tied[c.fill_id],
                dir_cents=dir_cents,
                allocated_cents=spread[c.fill_id],
                reasons=tuple(sorted(codes)),
            )
        )
    return out
