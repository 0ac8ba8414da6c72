"""One 835 transaction (ST..SE) into a Remittance: the loops, one handler per segment id.

Records are built straight from each segment's split element list; the current loop is
tracked by what came last (N1*PR opens 1000A, N1*PE 1000B, LX 2000, CLP 2100, SVC 2110, PLB
the summary), which is all the 835 structure needs.
"""

from __future__ import annotations

from collections.abc import Callable

from reconciliation.x12.balance import check_balances
from reconciliation.x12.issues import ERROR, WARNING
from reconciliation.x12.records import (
    Adjustment,
    ClaimPayment,
    Party,
    ProviderAdjustment,
    Remittance,
    ServicePayment,
)
from reconciliation.x12.transaction_issues import CLAIM_STATUSES, TransactionIssues
from reconciliation.x12.values import is_number, parse_cents, parse_date, parse_quantity

Handler = Callable[[list[str], int], None]

ADJUSTMENT_GROUPS = frozenset({"CO", "CR", "OA", "PI", "PR"})
HANDLING_CODES = frozenset({"C", "D", "H", "I", "P", "U", "X"})
# segments of the 835 that carry nothing the records keep
IGNORED = ("N3", "N4", "PER", "RDM", "TS3", "TS2")


class TransactionReader(TransactionIssues):
    """Collects one transaction. The envelope reader calls `handlers[segment id]` for each
    segment after ST, then `finish` with the SE."""

    def __init__(self, remit: Remittance, *, component: str, enveloped: bool) -> None:
        super().__init__(remit, component=component, enveloped=enveloped)
        self.claim: ClaimPayment | None = None
        self.line: ServicePayment | None = None
        self.header_number: str | None = None
        self.bpr_segment: int | None = None
        self.trn_segment: int | None = None
        self.payment_readable = True
        self.handlers: dict[str, Handler] = {
            "CLP": self.clp,
            "SVC": self.svc,
            "CAS": self.cas,
            "DTM": self.dtm,
            "REF": self.ref,
            "NM1": self.nm1,
            "AMT": self.amt,
            "QTY": self.qty,
            "LQ": self.lq,
            "MIA": self.mia,
            "MOA": self.moa,
            "LX": self.lx,
            "PLB": self.plb,
            "BPR": self.bpr,
            "TRN": self.trn,
            "N1": self.n1,
            **{segment_id: self.ignore for segment_id in IGNORED},
        }

    # --- header, payer and payee ------------------------------------------------------

    def bpr(self, e: list[str], n: int) -> None:
        if len(e) < 3:
            self.truncated(e, n, 2, "the payment amount (BPR02)")
        if len(e) < 17:
            e.extend([""] * (17 - len(e)))
        r = self.remit
        self.bpr_segment = n
        r.handling_code, r.credit_debit, r.method = e[1], e[3], e[4]
        if e[1] not in HANDLING_CODES:
            self.unknown_code(e[1], n, "BPR", "BPR01", "transaction handling code")
        r.paid_cents = parse_cents(e[2])
        if r.paid_cents is None:
            self.payment_readable = False
            self.bad_amount(e[2], n, "BPR02", "total payment")
        r.payment_date = parse_date(e[16])
        if r.payment_date is None and e[16] == "" and parse_date(e[15]):
            self.issue(
                ERROR,
                "missing-element",
                f"BPR16 (payment date) is missing; BPR15 holds {e[15]!r}, so the BPR looks one "
                "element short. The payment date was not taken from it.",
                n,
                "BPR",
                element="BPR16",
                expected="payment date CCYYMMDD",
                found="empty",
            )
        elif r.payment_date is None:
            self.bad_value("date", e[16], n, "BPR", "BPR16")

    def trn(self, e: list[str], n: int) -> None:
        if len(e) < 5:
            e.extend([""] * (5 - len(e)))
        self.trn_segment = n
        r = self.remit
        r.trace_number, r.trace_originator, r.trace_reference = e[2], e[3], e[4]
        if not e[2]:
            self.bad_value("number", "", n, "TRN", "TRN02")

    def n1(self, e: list[str], n: int) -> None:
        if len(e) < 5:
            e.extend([""] * (5 - len(e)))
        if self.claim is not None:
            self.misplaced(e, n, "the header (loops 1000A/1000B)")
            return
        r = self.remit
        entity, name, qualifier, ident = e[1], e[2].strip(), e[3], e[4].strip()
        if entity == "PR":
            self.loop = "1000A"
            r.payer_name = name
            r.payer_id = r.payer_id or ident or None
        elif entity == "PE":
            self.loop = "1000B"
            r.payee_name, r.payee_id_qualifier, r.payee_id = name, qualifier, ident
            if qualifier == "XX":
                r.payee_npi = ident
            elif qualifier == "D3":
                r.payee_ncpdp = ident
            elif qualifier == "FI":
                r.payee_tin = ident
        else:
            self.unknown_code(entity, n, "N1", "N101", "entity code (PR payer or PE payee)")

    def ref(self, e: list[str], n: int) -> None:
        if len(e) < 3:
            e.extend([""] * (3 - len(e)))
        qualifier, value = e[1], e[2]
        if self.line is not None:
            self.line.refs[qualifier] = value
        elif self.claim is not None:
            self.claim.refs[qualifier] = value
        elif self.loop == "1000A":
            self.remit.payer_refs[qualifier] = value
            if qualifier == "2U":
                self.remit.payer_id = value.strip()
        elif self.loop == "1000B":
            self.remit.payee_refs[qualifier] = value
            if qualifier == "TJ" and not self.remit.payee_tin:
                self.remit.payee_tin = value.strip()
            elif qualifier == "D3" and not self.remit.payee_ncpdp:
                self.remit.payee_ncpdp = value.strip()
        else:
            self.remit.refs[qualifier] = value

    def dtm(self, e: list[str], n: int) -> None:
        if len(e) < 3:
            e.extend([""] * (3 - len(e)))
        day = parse_date(e[2])
        if day is None:
            self.bad_value("date", e[2], n, "DTM", "DTM02")
        elif self.line is not None:
            self.line.dates[e[1]] = day
        elif self.claim is not None:
            self.claim.dates[e[1]] = day
        elif e[1] == "405":
            self.remit.production_date = day
        else:
            self.remit.refs[f"DTM{e[1]}"] = e[2]

    # --- claims and service lines -----------------------------------------------------

    def lx(self, e: list[str], n: int) -> None:
        self.loop, self.claim, self.line = "2000", None, None
        self.header_number = e[1] if len(e) > 1 else ""
        if not is_number(self.header_number):
            self.bad_value("number", self.header_number, n, "LX", "LX01")

    def clp(self, e: list[str], n: int) -> None:
        self.loop, self.line = "2100", None
        if len(e) < 5:
            self.truncated(e, n, 4, "its charge and paid amounts (CLP03, CLP04)")
        if len(e) < 10:
            e.extend([""] * (10 - len(e)))
        charge, paid = parse_cents(e[3]), parse_cents(e[4])
        patient = parse_cents(e[5]) if e[5] else 0
        claim = ClaimPayment(
            e[1], e[2], charge, paid, patient, e[6], e[7], e[8], e[9], n, self.header_number
        )
        self.remit.claims.append(claim)
        self.claim = claim
        if not e[1]:
            self.bad_value("number", "", n, "CLP", "CLP01")
        if e[2] not in CLAIM_STATUSES:
            self.unknown_status(e[2], n)
        if charge is None:
            claim.balanced = False
            self.bad_amount(e[3], n, "CLP03", "total claim charge")
        if paid is None:
            claim.balanced = False
            self.payment_readable = False
            self.bad_amount(e[4], n, "CLP04", "claim payment amount")
        if patient is None:
            self.bad_amount(e[5], n, "CLP05", "patient responsibility")

    def nm1(self, e: list[str], n: int) -> None:
        if self.claim is None:
            self.misplaced(e, n, "a claim (loop 2100)")
            return
        if len(e) < 10:
            e.extend([""] * (10 - len(e)))
        self.claim.parties[e[1]] = Party(e[1], e[3], e[4], e[5], e[8], e[9])

    def mia(self, e: list[str], n: int) -> None:
        if self.claim is None:
            self.misplaced(e, n, "a claim (loop 2100)")
        else:
            self.claim.inpatient = e[1:]

    def moa(self, e: list[str], n: int) -> None:
        if self.claim is None:
            self.misplaced(e, n, "a claim (loop 2100)")
        else:
            self.claim.outpatient = e[1:]

    def svc(self, e: list[str], n: int) -> None:
        claim = self.claim
        if claim is None:
            self.misplaced(e, n, "a claim (loop 2100)")
            return
        if len(e) < 4:
            self.truncated(e, n, 3, "its charge and paid amounts (SVC02, SVC03)")
        if len(e) < 8:
            e.extend([""] * (8 - len(e)))
        parts = self.composite(e[1], n, "SVC", "SVC01")
        charge, paid = parse_cents(e[2]), parse_cents(e[3])
        units = parse_quantity(e[5]) if e[5] else None
        line = ServicePayment(
            parts[0],
            parts[1] if len(parts) > 1 else "",
            [m for m in parts[2:6] if m] if len(parts) > 2 else [],
            charge,
            paid,
            units,
            n,
            e[4],
        )
        claim.services.append(line)
        self.line, self.loop = line, "2110"
        if not line.code:
            self.bad_value("number", "", n, "SVC", "SVC01-2")
        # the claim's own balance (CLP03 - CLP04 = all CAS) does not use SVC02/SVC03
        if charge is None:
            line.balanced = False
            self.bad_amount(e[2], n, "SVC02", "line item charge")
        if paid is None:
            line.balanced = False
            self.bad_amount(e[3], n, "SVC03", "line item payment")
        if units is None and e[5]:
            self.bad_value("number", e[5], n, "SVC", "SVC05")
        if e[6]:
            original = self.composite(e[6], n, "SVC", "SVC06")
            line.original_qualifier = original[0]
            line.original_code = original[1] if len(original) > 1 else ""
            line.original_modifiers = [m for m in original[2:6] if m]
        if e[7]:
            line.original_units = parse_quantity(e[7])
            if line.original_units is None:
                self.bad_value("number", e[7], n, "SVC", "SVC07")

    def cas(self, e: list[str], n: int) -> None:
        target = self.line or self.claim
        if target is None:
            self.misplaced(e, n, "a claim or service line (loop 2100 or 2110)")
            return
        if len(e) < 4:
            self.truncated(e, n, 3, "its first reason code and amount (CAS02, CAS03)")
        group, level = e[1], ("line" if self.line is not None else "claim")
        if group not in ADJUSTMENT_GROUPS:
            self.unknown_code(group, n, "CAS", "CAS01", "claim adjustment group code")
        if len(e) > 20:
            self.issue(
                WARNING,
                "too-many-elements",
                f"CAS has {len(e) - 1} elements, more than its six reason/amount/quantity "
                "triplets; every triplet was read.",
                n,
                "CAS",
                expected="at most 19 elements",
                found=str(len(e) - 1),
            )
        adjustments, count = target.adjustments, len(e)
        for i in range(2, count, 3):  # triplets CAS02-04, CAS05-07, ... CAS17-19
            reason = e[i]
            amount = e[i + 1] if i + 1 < count else ""
            quantity = e[i + 2] if i + 2 < count else ""
            cents = parse_cents(amount)
            if cents is not None and reason:
                units = parse_quantity(quantity) if quantity else None
                adjustments.append(Adjustment(level, group, reason, cents, units, n))
                if units is None and quantity:
                    self.bad_value("number", quantity, n, "CAS", f"CAS{i + 2:02d}")
            elif reason or amount or quantity:
                self.bad_triplet(target, reason, amount, i, n)

    def bad_triplet(
        self, target: ClaimPayment | ServicePayment, reason: str, amount: str, i: int, n: int
    ) -> None:
        """A CAS triplet without a readable reason and amount: not kept, and its claim and
        line can no longer be shown to balance."""
        target.balanced = False
        if self.claim is not None:
            self.claim.balanced = False
        if parse_cents(amount) is None:
            self.bad_amount(amount, n, f"CAS{i + 1:02d}", "adjustment amount")
        else:
            self.bad_value("number", reason, n, "CAS", f"CAS{i:02d}")

    def amt(self, e: list[str], n: int) -> None:
        target = self.line or self.claim
        if target is None:
            self.misplaced(e, n, "a claim or service line (loop 2100 or 2110)")
            return
        if len(e) < 3:
            e.extend([""] * (3 - len(e)))
        cents = parse_cents(e[2])
        if cents is None:
            self.bad_amount(e[2], n, "AMT02", f"amount {e[1]}")
        else:
            target.amounts[e[1]] = cents

    def qty(self, e: list[str], n: int) -> None:
        target = self.line or self.claim
        if target is None:
            self.misplaced(e, n, "a claim or service line (loop 2100 or 2110)")
            return
        if len(e) < 3:
            e.extend([""] * (3 - len(e)))
        quantity = parse_quantity(e[2])
        if quantity is None:
            self.bad_value("number", e[2], n, "QTY", "QTY02")
        else:
            target.quantities[e[1]] = quantity

    def lq(self, e: list[str], n: int) -> None:
        if self.line is None:
            self.misplaced(e, n, "a service line (loop 2110)")
            return
        self.line.remarks.append((e[1] if len(e) > 1 else "", e[2] if len(e) > 2 else ""))

    # --- summary ----------------------------------------------------------------------

    def plb(self, e: list[str], n: int) -> None:
        self.loop, self.claim, self.line = "summary", None, None
        if len(e) < 5:
            self.truncated(e, n, 4, "its first adjustment amount (PLB04)")
        provider, period = e[1], parse_date(e[2])
        if period is None:
            self.bad_value("date", e[2], n, "PLB", "PLB02")
        e.append("")
        for i in range(3, len(e) - 1, 2):  # pairs PLB03-04, PLB05-06, ... PLB13-14
            identifier, amount = e[i], e[i + 1]
            if not (identifier or amount):
                continue
            parts = self.composite(identifier, n, "PLB", f"PLB{i:02d}")
            cents = parse_cents(amount)
            if cents is None:
                self.payment_readable = False
                self.bad_amount(amount, n, f"PLB{i + 1:02d}", "provider adjustment amount")
                continue
            if not parts[0]:
                self.bad_value("number", "", n, "PLB", f"PLB{i:02d}-1")
            reference = parts[1] if len(parts) > 1 else ""
            self.remit.provider_adjustments.append(
                ProviderAdjustment(provider, period, parts[0], reference, cents, n)
            )

    def ignore(self, e: list[str], n: int) -> None:
        """A segment of the 835 whose content the records do not keep (addresses,
        contacts, provider summary totals)."""

    # --- SE ---------------------------------------------------------------------------

    def finish(self, e: list[str], n: int) -> Remittance:
        """Check SE against ST and the segment count, then balance the transaction."""
        r = self.remit
        r.last_segment = n
        self.loop = "summary"
        self.handlers = {}  # its bound methods point back here: no cycle left behind
        count = n - r.first_segment + 1
        declared = e[1] if len(e) > 1 else ""
        if declared != str(count):
            self.issue(
                ERROR,
                "se-count",
                f"SE01 says the transaction has {declared or 'no count of'} segments, but "
                f"{count} were counted from ST to SE.",
                n,
                "SE",
                element="SE01",
                expected=str(count),
                found=declared,
            )
        control = e[2] if len(e) > 2 else ""
        if control != r.transaction_control:
            self.issue(
                ERROR,
                "se-control",
                f"SE02 control number {control!r} does not match ST02 {r.transaction_control!r}.",
                n,
                "SE",
                element="SE02",
                expected=r.transaction_control,
                found=control,
            )
        for segment_id, seen in (("BPR", self.bpr_segment), ("TRN", self.trn_segment)):
            if seen is None:
                self.issue(
                    ERROR,
                    "missing-segment",
                    f"The transaction has no {segment_id} segment, which every 835 needs.",
                    r.first_segment,
                    "ST",
                    expected=segment_id,
                    found="none",
                    loop="header",
                )
        r.balanced = check_balances(
            r,
            self.issue,
            bpr_segment=self.bpr_segment,
            payment_readable=self.payment_readable,
        )
        r.issues.sort(key=lambda i: i.segment or 0)
        return r
