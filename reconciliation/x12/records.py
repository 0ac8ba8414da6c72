"""The plain records an 835 is read into. Money is integer cents, quantities Decimal.

An amount is `None` only when the file's value is missing or unreadable; the transaction then
carries an error `Issue` for it and is not marked balanced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from reconciliation.x12.issues import Issue


@dataclass(slots=True)
class Adjustment:
    """One CAS reason/amount/quantity triplet. `level` is "claim" (loop 2100) or "line"
    (loop 2110)."""

    level: str
    group: str  # CAS01: CO, PR, OA, PI, CR
    reason: str  # CARC
    amount_cents: int
    quantity: Decimal | None
    segment: int


@dataclass(slots=True)
class Party:
    """An NM1 in loop 2100: patient (QC), insured (IL), corrected patient (74), rendering
    provider (82), crossover carrier (TT), corrected priority payer (PR), other subscriber
    (GB)."""

    entity: str  # NM101
    last_name: str  # NM103 (the organization name when NM102 = 2)
    first_name: str
    middle_name: str
    id_qualifier: str  # NM108: MI member id, HN, MR, XX NPI, ...
    id: str  # NM109


@dataclass(slots=True)
class ServicePayment:
    """Loop 2110: one SVC service line and what follows it."""

    qualifier: str  # SVC01-1: N4 (NDC), HC (HCPCS/CPT), ZZ, NU, ...
    code: str  # SVC01-2
    modifiers: list[str]  # SVC01-3..6
    charge_cents: int | None  # SVC02
    paid_cents: int | None  # SVC03
    units: Decimal | None  # SVC05, absent when not sent
    segment: int
    revenue_code: str = ""  # SVC04
    original_qualifier: str = ""  # SVC06-1, when the payer adjudicated a different code
    original_code: str = ""
    original_modifiers: list[str] = field(default_factory=list)
    original_units: Decimal | None = None  # SVC07
    dates: dict[str, date] = field(default_factory=dict)  # DTM01 -> date: 472, 150, 151
    refs: dict[str, str] = field(default_factory=dict)  # REF01 -> REF02: 6R line control, ...
    amounts: dict[str, int] = field(default_factory=dict)  # AMT01 -> cents: B6 allowed, ...
    quantities: dict[str, Decimal] = field(default_factory=dict)  # QTY01 -> QTY02
    remarks: list[tuple[str, str]] = field(default_factory=list)  # LQ: (HE|RX, code)
    adjustments: list[Adjustment] = field(default_factory=list)
    balanced: bool = True  # SVC02 - SVC03 = its CAS amounts (False when unreadable)

    @property
    def ndc(self) -> str | None:
        """The 11-digit NDC of a pharmacy line (qualifier N4), hyphens dropped."""
        if self.qualifier != "N4":
            return None
        digits = self.code.replace("-", "")
        return digits if len(digits) == 11 and digits.isdigit() else None

    @property
    def control_number(self) -> str | None:
        """REF*6R: the provider's line item control number (our Rx number and fill)."""
        return self.refs.get("6R")


@dataclass(slots=True)
class ClaimPayment:
    """Loop 2100: one CLP claim payment, its claim-level CAS and its service lines."""

    claim_ref: str  # CLP01: the provider's claim reference
    status: str  # CLP02, verbatim (unknown codes are kept, with a warning)
    charge_cents: int | None  # CLP03
    paid_cents: int | None  # CLP04
    patient_resp_cents: int | None  # CLP05 (0 when not sent, None when unreadable)
    filing_indicator: str  # CLP06
    payer_claim_control: str  # CLP07
    facility_type: str  # CLP08
    frequency: str  # CLP09
    segment: int
    header_number: str | None = None  # LX01 of the 2000 loop the claim is in
    parties: dict[str, Party] = field(default_factory=dict)  # NM101 -> party
    dates: dict[str, date] = field(default_factory=dict)  # DTM01 -> date: 232, 233, 050, 036
    refs: dict[str, str] = field(default_factory=dict)
    amounts: dict[str, int] = field(default_factory=dict)
    quantities: dict[str, Decimal] = field(default_factory=dict)
    inpatient: list[str] | None = None  # MIA01.. verbatim
    outpatient: list[str] | None = None  # MOA01.. verbatim
    adjustments: list[Adjustment] = field(default_factory=list)  # claim level only
    services: list[ServicePayment] = field(default_factory=list)
    balanced: bool = True  # CLP03 - CLP04 = all its CAS (False when unreadable)

    @property
    def is_reversal(self) -> bool:
        return self.status == "22"

    @property
    def patient(self) -> Party | None:
        return self.parties.get("QC")

    @property
    def patient_last_name(self) -> str | None:
        p = self.parties.get("QC")
        return p.last_name if p else None

    @property
    def patient_first_name(self) -> str | None:
        p = self.parties.get("QC")
        return p.first_name if p else None

    @property
    def member_id(self) -> str | None:
        """The patient's member id (NM1*QC NM109), else the insured's (NM1*IL)."""
        for entity in ("QC", "IL"):
            p = self.parties.get(entity)
            if p and p.id:
                return p.id
        return None

    @property
    def all_adjustments(self) -> list[Adjustment]:
        """Claim-level then line-level adjustments, in file order within each level."""
        return [*self.adjustments, *(a for s in self.services for a in s.adjustments)]


@dataclass(slots=True)
class ProviderAdjustment:
    """One PLB adjustment pair. A positive amount reduces the payment."""

    provider_id: str  # PLB01
    fiscal_period: date | None  # PLB02
    reason: str  # PLB03-1 (PLB05-1, ...)
    reference: str  # PLB03-2
    amount_cents: int  # PLB04 (PLB06, ...)
    segment: int


@dataclass(slots=True)
class Remittance:
    """One 835 transaction (ST..SE): one payment from one payer to one payee."""

    file: str
    interchange_control: str | None  # ISA13 (None for a bare ST..SE file)
    group_control: str | None  # GS06
    transaction_control: str  # ST02
    sender_id: str | None  # ISA06
    receiver_id: str | None  # ISA08
    version: str | None  # GS08
    first_segment: int  # file segment numbers of ST and SE
    last_segment: int = 0
    handling_code: str = ""  # BPR01: I payment with remittance, H notification only, C, ...
    paid_cents: int | None = None  # BPR02
    credit_debit: str = ""  # BPR03: C or D
    method: str = ""  # BPR04: ACH, CHK, FWT, BOP, NON
    payment_date: date | None = None  # BPR16
    trace_number: str = ""  # TRN02: check or EFT trace number
    trace_originator: str = ""  # TRN03
    trace_reference: str = ""  # TRN04
    production_date: date | None = None  # DTM*405
    refs: dict[str, str] = field(default_factory=dict)  # header REF: EV receiver, F2 version
    payer_name: str = ""
    payer_id: str | None = None  # REF*2U, else N104
    payer_refs: dict[str, str] = field(default_factory=dict)
    payee_name: str = ""
    payee_id_qualifier: str = ""  # N103
    payee_id: str = ""  # N104
    payee_npi: str | None = None  # N103 = XX
    payee_ncpdp: str | None = None  # N103 = D3, or REF*D3
    payee_tin: str | None = None  # N103 = FI, or REF*TJ
    payee_refs: dict[str, str] = field(default_factory=dict)
    claims: list[ClaimPayment] = field(default_factory=list)
    provider_adjustments: list[ProviderAdjustment] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    balanced: bool = False  # BPR, every claim and every line verified to balance

    @property
    def claim_paid_cents(self) -> int:
        return sum(c.paid_cents or 0 for c in self.claims)

    @property
    def provider_adjustment_cents(self) -> int:
        return sum(a.amount_cents for a in self.provider_adjustments)


@dataclass(slots=True)
class ParsedFile:
    """A whole file read at once: its transactions, and the issues that belong to the file
    rather than to one transaction (interchange and group envelopes)."""

    name: str
    remittances: list[Remittance]
    issues: list[Issue]

    @property
    def all_issues(self) -> list[Issue]:
        found = [*self.issues, *(i for r in self.remittances for i in r.issues)]
        return sorted(found, key=lambda i: i.segment or 0)
