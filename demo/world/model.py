"""The records of the simulated world. Money is integer cents; unit prices are Decimal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

# adherence classes used by the PQA measures, plus the exclusion classes
DIABETES = "DR"  # diabetes, non-insulin
RASA = "RASA"  # renin-angiotensin system antagonists
STATIN = "STA"
INSULIN = "INSULIN"  # excludes the patient from PDC-DR
SACUBITRIL_VALSARTAN = "SACVAL"  # excludes the patient from PDC-RASA


@dataclass(frozen=True, slots=True)
class Drug:
    ndc: str  # 11 digits, 5-4-2 without hyphens
    name: str  # label name with strength and form
    generic_name: str
    ingredient: str  # active ingredient(s), lower case: the PQA "same drug" key
    is_brand: bool
    adherence_class: str | None
    unit: str  # NADAC pricing unit: EA, ML, GM
    package_size: int
    awp_unit: Decimal  # average wholesale price per unit
    nadac_unit: Decimal  # national average acquisition cost per unit (start of year)
    typical_qty: int  # quantity for a 30-day supply
    chronic: bool


@dataclass(frozen=True, slots=True)
class Payer:
    key: str
    name: str
    bin: str
    pcn: str
    group: str
    plan_type: str  # medicare_d, commercial, medicaid, cash
    contract: str  # ffs or value_based
    payer_id: str  # 10 characters for TRN03 / N1*PR
    pay_cycle_days: int
    pay_lag_days: int  # from date of service to the first cycle that pays it
    generic_mac_factor: Decimal  # MAC as a multiple of NADAC
    brand_awp_discount: Decimal  # brand ingredient = AWP * (1 - discount)
    dispensing_fee_cents: int
    generic_copay_cents: int
    brand_copay_cents: int
    short_pay_rate: float  # share of claims paid below adjudication
    never_pay_rate: float
    duplicate_rate: float
    clawback_rate: float  # paid, then taken back ~6 weeks later
    reversal_ignored_rate: float  # PMS reversed it, payer never reversed the payment
    dir_on_claim: bool  # CAS CO-295 on the remit for DIR
    transaction_fee_cents: int  # per claim, charged as a PLB on the 835
    performance_fee_pct: Decimal  # of ingredient cost paid, charged on the fee statement
    network_fee_cents: int
    delimiters: str  # standard | control | wrapped | newline


@dataclass(frozen=True, slots=True)
class Location:
    ncpdp: str
    npi: str
    name: str
    street: str
    city: str
    state: str
    zip: str
    pms_vendor: str  # layout of this store's native PMS export
    cost_factor: Decimal  # how well the store buys, as a multiple of NADAC


@dataclass(frozen=True, slots=True)
class Prescriber:
    npi: str
    first_name: str
    last_name: str
    dea: str


@dataclass(slots=True)
class Patient:
    location: str  # NCPDP of the store whose PMS owns the record
    pms_id: str
    first_name: str
    last_name: str
    dob: date
    sex: str
    phone: str
    zip: str
    payer: str  # payer key (primary coverage)
    cardholder_id: str
    behaviour: str  # adherent, drifting, stopping, acute_only
    med_sync: bool = False
    sync_day: int | None = None  # day of month the patient's fills are aligned to


@dataclass(slots=True)
class Claim:
    """One PMS claim transaction: B1 bill, B2 reversal, B3 rebill."""

    location: str
    rx_number: int
    fill_number: int
    date_of_service: date
    transaction: str  # B1, B2, B3
    transaction_date: date
    patient_id: str
    prescriber_npi: str
    ndc: str
    quantity: Decimal
    days_supply: int
    payer: str
    usual_customary_cents: int
    ingredient_cost_paid_cents: int
    dispensing_fee_paid_cents: int
    patient_pay_cents: int
    total_paid_cents: int  # plan paid (509-F9); negative on a reversal
    acquisition_cost_cents: int
    basis_of_reimbursement: str
    authorization: str
    daw: str = "0"

    @property
    def key(self) -> tuple[str, int, int, date, str]:
        return (
            self.location,
            self.rx_number,
            self.fill_number,
            self.date_of_service,
            self.transaction,
        )

    @property
    def rx_ref(self) -> str:
        """How the pharmacy refers to the claim on the 835 (CLP01): Rx number and fill."""
        return f"{self.rx_number}-{self.fill_number:02d}"


@dataclass(frozen=True, slots=True)
class RemitAdjustment:
    group: str  # CO, PR, OA, PI
    reason: str  # CARC
    amount_cents: int


@dataclass(frozen=True, slots=True)
class RemitClaim:
    """One CLP loop with its single SVC line (pharmacy remits carry one line per claim)."""

    claim_key: tuple[str, int, int, date, str]  # the PMS claim it pays or reverses
    rx_ref: str  # CLP01
    status: str  # CLP02: 1 processed as primary, 22 reversal
    charge_cents: int  # CLP03 (negative on a reversal)
    paid_cents: int  # CLP04
    patient_resp_cents: int  # CLP05
    payer_claim_id: str  # CLP07
    ndc: str
    quantity: Decimal
    date_of_service: date
    adjustments: tuple[RemitAdjustment, ...]
    patient_last: str
    patient_first: str
    cardholder_id: str


@dataclass(frozen=True, slots=True)
class ProviderAdjustment:
    reason: str  # PLB adjustment reason code: CS, WO, L6, FB ...
    reference: str
    amount_cents: int  # positive reduces the payment, negative (interest) increases it


@dataclass(slots=True)
class Remittance:
    """One 835 transaction: one payer, one payee (store), one payment."""

    payer: str
    location: str
    payment_date: date
    trace_number: str
    claims: list[RemitClaim] = field(default_factory=list)
    provider_adjustments: list[ProviderAdjustment] = field(default_factory=list)

    @property
    def paid_cents(self) -> int:
        """BPR02: claim payments less provider-level adjustments."""
        return sum(c.paid_cents for c in self.claims) - sum(
            a.amount_cents for a in self.provider_adjustments
        )


@dataclass(frozen=True, slots=True)
class FeeLine:
    statement_date: date
    payer: str
    claim_key: tuple[str, int, int, date, str]
    authorization: str
    fee_type: str  # performance, network, effective_rate_true_up, transaction
    amount_cents: int  # positive: charged to the pharmacy; negative: incentive paid


@dataclass(frozen=True, slots=True)
class NadacPrice:
    ndc: str
    effective: date
    per_unit: Decimal


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    location: str
    invoice_number: str
    invoice_date: date
    ndc: str
    packages: int
    package_size: int
    unit_cost: Decimal


@dataclass(frozen=True, slots=True)
class Immunization:
    location: str
    patient_id: str
    administered: date
    cvx: str
    mvx: str
    vaccine: str
    lot: str
    expiration: date
    dose_ml: Decimal
    site: str
    route: str
    vis_date: date
    pharmacist_npi: str
    funding: str  # VFC eligibility / funding source code
    billed_cents: int


@dataclass(frozen=True, slots=True)
class MtmEncounter:
    location: str
    patient_id: str
    kind: str  # eligible, cmr, tmr
    when: date
    minutes: int
    pharmacist_npi: str
    cpt: str
    billed_cents: int


@dataclass(slots=True)
class World:
    seed: int
    scale: str
    year: int
    as_of: date
    organization: str
    locations: list[Location]
    payers: list[Payer]
    drugs: list[Drug]
    prescribers: list[Prescriber]
    patients: list[Patient]
    claims: list[Claim]
    remittances: list[Remittance]
    fees: list[FeeLine]
    nadac: list[NadacPrice]
    invoices: list[InvoiceLine]
    immunizations: list[Immunization]
    mtm: list[MtmEncounter]
    truth: dict[tuple[str, int, int, date, str], str]  # claim key -> expected status
