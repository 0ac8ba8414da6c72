"""Simulate a chain's year: patients, their fills and claims, and what each claim is worth.

Everything is drawn from one `random.Random(seed)`, in a fixed order, so the same config
gives the same world. Remittances, fees and truth are derived in `demo.world.payments`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from demo.world.catalog import (
    DRUG_BY_NDC,
    DRUGS,
    FIRST_NAMES,
    LAST_NAMES,
    PAYER_BY_KEY,
    PAYER_MIX,
    PMS_VENDORS,
    STREETS,
    SWITCH_TARGETS,
    TOWNS,
)
from demo.world.model import (
    DIABETES,
    INSULIN,
    RASA,
    SACUBITRIL_VALSARTAN,
    STATIN,
    Claim,
    Drug,
    InvoiceLine,
    Location,
    NadacPrice,
    Patient,
    Prescriber,
)

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Scale:
    locations: int
    patients_per_location: int
    acute_per_patient_year: float


SCALES = {
    "small": Scale(locations=3, patients_per_location=310, acute_per_patient_year=1.4),
    "medium": Scale(locations=8, patients_per_location=1750, acute_per_patient_year=1.4),
    "large": Scale(locations=25, patients_per_location=2150, acute_per_patient_year=1.4),
}


def cents(amount: Decimal) -> int:
    return int((amount / CENT).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def npi_with_check_digit(base9: str) -> str:
    """Complete a 9-digit base into a valid NPI (Luhn over 80840 + base)."""
    digits = [int(c) for c in "80840" + base9]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return base9 + str((10 - total % 10) % 10)


class Prices:
    """NADAC drifts month by month; each store buys at its own factor of NADAC."""

    def __init__(self, rng: random.Random, year: int) -> None:
        self.year = year
        self.monthly: dict[str, list[Decimal]] = {}
        for drug in DRUGS:
            drift = Decimal(str(round(rng.uniform(-0.012, 0.006), 4)))  # generics deflate
            if drug.is_brand:
                drift = Decimal(str(round(rng.uniform(0.0, 0.008), 4)))
            self.monthly[drug.ndc] = [
                (drug.nadac_unit * (1 + drift) ** m).quantize(Decimal("0.00001")) for m in range(12)
            ]

    def nadac(self, ndc: str, day: date) -> Decimal:
        month = 0 if day.year < self.year else (11 if day.year > self.year else day.month - 1)
        return self.monthly[ndc][month]

    def acquisition(self, location: Location, ndc: str, day: date) -> Decimal:
        drug = DRUG_BY_NDC[ndc]
        factor = location.cost_factor if not drug.is_brand else Decimal("1.01")
        return (self.nadac(ndc, day) * factor).quantize(Decimal("0.00001"))


def make_locations(rng: random.Random, count: int) -> list[Location]:
    names = (
        "Main Street",
        "Northgate",
        "Riverside",
        "Westgate",
        "Campustown",
        "Lakeview",
        "Old Town",
        "Hillcrest",
        "Southridge",
        "Eastbrook",
        "Parkside",
        "Mill Creek",
    )
    locations = []
    for i in range(count):
        town, state, zipcode = TOWNS[i % len(TOWNS)]
        label = names[i % len(names)] + ("" if i < len(names) else f" {i // len(names) + 1}")
        # the third store buys generics off-contract: most of them are underwater
        factor = Decimal("2.60") if i == 2 else Decimal(str(round(rng.uniform(0.9, 1.06), 3)))
        locations.append(
            Location(
                ncpdp=f"{4410001 + i:07d}",
                npi=npi_with_check_digit(f"{134500000 + 7919 * i:09d}"),
                name=f"Prairie Pharmacy — {label}",
                street=f"{rng.randrange(10, 990)} {rng.choice(STREETS)}",
                city=town,
                state=state,
                zip=zipcode,
                pms_vendor=PMS_VENDORS[i % len(PMS_VENDORS)],
                cost_factor=factor,
            )
        )
    return locations


def make_prescribers(rng: random.Random, count: int) -> list[Prescriber]:
    out = []
    for i in range(count):
        last = rng.choice(LAST_NAMES)
        out.append(
            Prescriber(
                npi=npi_with_check_digit(f"{165000000 + 104729 * i % 9999999:09d}"),
                first_name=rng.choice(FIRST_NAMES),
                last_name=last,
                dea=f"B{last[0]}{rng.randrange(1000000, 9999999)}",
            )
        )
    return out


def _weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    total = sum(w for _, w in pairs)
    pick = rng.uniform(0, total)
    for key, weight in pairs:
        pick -= weight
        if pick <= 0:
            return key
    return pairs[-1][0]


def make_patients(rng: random.Random, location: Location, count: int, year: int) -> list[Patient]:
    patients = []
    for n in range(count):
        age = rng.choice((rng.randint(18, 64), rng.randint(45, 90), rng.randint(65, 92)))
        dob = date(year - age, 1, 1) + timedelta(days=rng.randrange(365))
        payer = _weighted(rng, PAYER_MIX)
        if age >= 65 and payer not in ("cash", "meridian_d") and rng.random() < 0.6:
            payer = "meridian_d"
        elif age < 65 and payer == "meridian_d" and rng.random() < 0.85:
            payer = "keystone_a"  # under 65 on Part D is the exception (disability, ESRD)
        behaviour = _weighted(
            rng, (("adherent", 46), ("drifting", 24), ("stopping", 10), ("acute_only", 20))
        )
        _town, _state, zipcode = rng.choice(TOWNS)
        med_sync = behaviour != "acute_only" and rng.random() < 0.28
        patients.append(
            Patient(
                location=location.ncpdp,
                pms_id=f"{location.ncpdp[-2:]}{n + 1:06d}",
                first_name=rng.choice(FIRST_NAMES),
                last_name=rng.choice(LAST_NAMES),
                dob=dob,
                sex=rng.choice("FM"),
                phone=f"515-555-{rng.randrange(10000):04d}",
                zip=zipcode,
                payer=payer,
                cardholder_id=f"{payer[:2].upper()}{rng.randrange(10**8, 10**9)}",
                behaviour=behaviour,
                med_sync=med_sync,
                sync_day=rng.randint(1, 28) if med_sync else None,
            )
        )
    return patients


@dataclass
class Regimen:
    ndc: str
    start: date
    days_supply: int


CHRONIC_BY_CLASS: dict[str | None, list[Drug]] = {}
for _d in DRUGS:
    if _d.chronic:
        CHRONIC_BY_CLASS.setdefault(_d.adherence_class, []).append(_d)
ACUTE = [d for d in DRUGS if not d.chronic]


def choose_regimens(rng: random.Random, patient: Patient, year: int) -> list[Regimen]:
    if patient.behaviour == "acute_only":
        return []
    wanted: list[str | None] = []
    age = year - patient.dob.year
    if rng.random() < (0.55 if age >= 50 else 0.25):
        wanted.append(STATIN)
    if rng.random() < (0.5 if age >= 50 else 0.2):
        wanted.append(RASA)
    if rng.random() < 0.3:
        wanted.append(DIABETES)
    if DIABETES in wanted and rng.random() < 0.15:
        wanted.append(INSULIN)
    if RASA in wanted and rng.random() < 0.06:
        wanted[wanted.index(RASA)] = SACUBITRIL_VALSARTAN
    wanted.extend(None for _ in range(rng.choice((0, 1, 1, 2))))
    if not wanted:
        wanted.append(rng.choice((STATIN, RASA, None)))
    regimens = []
    used: set[str] = set()
    for cls in wanted:
        options = [d for d in CHRONIC_BY_CLASS[cls] if d.ndc not in used]
        if not options:
            continue
        drug = rng.choice(options)
        used.add(drug.ndc)
        days = 90 if rng.random() < 0.22 and not drug.is_brand else 30
        # therapy usually started before the year; the first fill in the year falls inside
        # the first supply period
        start = date(year, 1, 1) + timedelta(days=rng.randrange(0, days))
        if rng.random() < 0.2:  # some start mid-year
            start = date(year, 1, 1) + timedelta(days=rng.randrange(30, 300))
        regimens.append(Regimen(ndc=drug.ndc, start=start, days_supply=days))
    return regimens


class ClaimFactory:
    """Turns a dispensing event into a priced claim, with rx numbers per store."""

    def __init__(self, rng: random.Random, prices: Prices, prescribers: list[Prescriber]):
        self.rng = rng
        self.prices = prices
        self.prescribers = prescribers
        self.next_rx: dict[str, int] = {}
        self.auth_seq = 0

    def new_rx(self, location: Location) -> int:
        rx = self.next_rx.get(location.ncpdp, 2_100_000 + 100_000 * (int(location.ncpdp) % 50))
        self.next_rx[location.ncpdp] = rx + 1
        return rx

    def price(
        self,
        *,
        location: Location,
        patient: Patient,
        drug: Drug,
        qty: Decimal,
        days: int,
        dos: date,
    ) -> dict[str, int | str]:
        payer = PAYER_BY_KEY[patient.payer]
        nadac = self.prices.nadac(drug.ndc, dos)
        acquisition = cents(self.prices.acquisition(location, drug.ndc, dos) * qty)
        if drug.is_brand:
            usual = cents(drug.awp_unit * qty)
        else:
            usual = max(cents(nadac * qty * 4) + 899, 1299)
        if payer.plan_type == "cash":
            return {
                "usual": usual,
                "ingredient": 0,
                "fee": 0,
                "patient_pay": usual,
                "plan_paid": 0,
                "acquisition": acquisition,
                "basis": "04",
            }
        fee = payer.dispensing_fee_cents
        if drug.is_brand:
            ingredient = cents(drug.awp_unit * qty * (1 - payer.brand_awp_discount))
            basis = "03"
        elif payer.plan_type == "medicaid":
            ingredient, basis = cents(nadac * qty), "20"
        else:
            mac = cents(nadac * payer.generic_mac_factor * qty)
            awp_price = cents(drug.awp_unit * qty * Decimal("0.2"))
            ingredient, basis = min(mac, awp_price), "07"
        gross = ingredient + fee
        if usual < gross:  # paid at usual & customary
            ingredient, basis, gross = max(usual - fee, 0), "04", usual
        copay = payer.brand_copay_cents if drug.is_brand else payer.generic_copay_cents
        patient_pay = min(copay, gross)
        return {
            "usual": usual,
            "ingredient": ingredient,
            "fee": fee,
            "patient_pay": patient_pay,
            "plan_paid": gross - patient_pay,
            "acquisition": acquisition,
            "basis": basis,
        }

    def claim(
        self,
        *,
        location: Location,
        patient: Patient,
        drug: Drug,
        rx: int,
        fill: int,
        dos: date,
        days: int,
        prescriber: Prescriber,
        transaction: str = "B1",
        transaction_date: date | None = None,
        qty: Decimal | None = None,
    ) -> Claim:
        qty = qty if qty is not None else Decimal(drug.typical_qty * max(days // 30, 1))
        if not drug.chronic:
            days = self.rng.choice((5, 7, 10))
        p = self.price(location=location, patient=patient, drug=drug, qty=qty, days=days, dos=dos)
        payer = PAYER_BY_KEY[patient.payer]
        self.auth_seq += 1
        auth = "" if payer.plan_type == "cash" else f"{payer.bin[-3:]}{dos:%y%j}{self.auth_seq:08d}"
        return Claim(
            location=location.ncpdp,
            rx_number=rx,
            fill_number=fill,
            date_of_service=dos,
            transaction=transaction,
            transaction_date=transaction_date or dos,
            patient_id=patient.pms_id,
            prescriber_npi=prescriber.npi,
            ndc=drug.ndc,
            quantity=qty,
            days_supply=days,
            payer=patient.payer,
            usual_customary_cents=int(p["usual"]),
            ingredient_cost_paid_cents=int(p["ingredient"]),
            dispensing_fee_paid_cents=int(p["fee"]),
            patient_pay_cents=int(p["patient_pay"]),
            total_paid_cents=int(p["plan_paid"]),
            acquisition_cost_cents=int(p["acquisition"]),
            basis_of_reimbursement=str(p["basis"]),
            authorization=auth,
        )


def reversal_of(claim: Claim, when: date) -> Claim:
    """The B2 row: same key fields, amounts negated, dated when the pharmacy reversed it."""
    return Claim(
        location=claim.location,
        rx_number=claim.rx_number,
        fill_number=claim.fill_number,
        date_of_service=claim.date_of_service,
        transaction="B2",
        transaction_date=when,
        patient_id=claim.patient_id,
        prescriber_npi=claim.prescriber_npi,
        ndc=claim.ndc,
        quantity=-claim.quantity,
        days_supply=claim.days_supply,
        payer=claim.payer,
        usual_customary_cents=-claim.usual_customary_cents,
        ingredient_cost_paid_cents=-claim.ingredient_cost_paid_cents,
        dispensing_fee_paid_cents=-claim.dispensing_fee_paid_cents,
        patient_pay_cents=-claim.patient_pay_cents,
        total_paid_cents=-claim.total_paid_cents,
        acquisition_cost_cents=-claim.acquisition_cost_cents,
        basis_of_reimbursement=claim.basis_of_reimbursement,
        authorization=claim.authorization,
        daw=claim.daw,
    )


def _gap(rng: random.Random, behaviour: str, fill_index: int) -> int:
    if behaviour == "adherent":
        return max(-5, min(6, round(rng.gauss(0, 2.5))))
    if behaviour == "drifting":
        return max(-2, round(rng.gauss(4 + fill_index * 1.5, 4)))
    return max(-3, round(rng.gauss(3, 4)))  # stopping: fine until they stop


def simulate_patient(
    rng: random.Random,
    factory: ClaimFactory,
    location: Location,
    patient: Patient,
    *,
    year: int,
    as_of: date,
    acute_rate: float,
) -> list[Claim]:
    claims: list[Claim] = []
    prescriber = factory.prescribers[rng.randrange(len(factory.prescribers))]
    for regimen in choose_regimens(rng, patient, year):
        drug = DRUG_BY_NDC[regimen.ndc]
        rx, fill, day = factory.new_rx(location), 0, regimen.start
        stop_after = rng.randint(2, 6) if patient.behaviour == "stopping" else 10**6
        switched = False
        i = 0
        while day <= as_of and i < stop_after:
            days = regimen.days_supply
            if patient.med_sync and patient.sync_day and i > 0:
                # aligned to the sync date: the fill lands on the patient's sync day
                target = day.replace(day=min(patient.sync_day, 28))
                day = target if abs((target - day).days) <= 10 else day
            claims.append(
                factory.claim(
                    location=location,
                    patient=patient,
                    drug=drug,
                    rx=rx,
                    fill=fill,
                    dos=day,
                    days=days,
                    prescriber=prescriber,
                )
            )
            i += 1
            fill += 1
            if fill > (3 if days == 90 else 11):  # refills exhausted: a new Rx number
                rx, fill = factory.new_rx(location), 0
            if not switched and drug.ndc in SWITCH_TARGETS and rng.random() < 0.06:
                drug = DRUG_BY_NDC[rng.choice(SWITCH_TARGETS[drug.ndc])]
                rx, fill, switched = factory.new_rx(location), 0, True
            step = days + (0 if patient.med_sync else _gap(rng, patient.behaviour, i))
            day = day + timedelta(days=max(step, days // 2))
    n_acute = _poisson(rng, acute_rate * ((as_of - date(year, 1, 1)).days + 1) / 365)
    for _ in range(n_acute):
        dos = date(year, 1, 1) + timedelta(days=rng.randrange((as_of - date(year, 1, 1)).days + 1))
        claims.append(
            factory.claim(
                location=location,
                patient=patient,
                drug=rng.choice(ACUTE),
                rx=factory.new_rx(location),
                fill=0,
                dos=dos,
                days=7,
                prescriber=prescriber,
            )
        )
    return claims


def _poisson(rng: random.Random, lam: float) -> int:
    threshold, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= threshold:
            return k
        k += 1


def add_reversals(
    rng: random.Random,
    factory: ClaimFactory,
    claims: list[Claim],
    as_of: date,
    locations: dict[str, Location],
    patients: dict[tuple[str, str], Patient],
) -> list[Claim]:
    """Return-to-stock reversals (B2) and reversal + rebill pairs (B2, B3)."""
    out: list[Claim] = []
    for claim in claims:
        out.append(claim)
        roll = rng.random()
        if roll < 0.13:  # never picked up: returned to stock after one to three weeks
            when = claim.date_of_service + timedelta(days=rng.randint(7, 21))
            if when <= as_of:
                out.append(reversal_of(claim, when))
        elif roll < 0.19:  # billed wrong: reversed and re-billed the next day
            when = claim.date_of_service + timedelta(days=rng.randint(0, 2))
            if when <= as_of:
                out.append(reversal_of(claim, when))
                drug = DRUG_BY_NDC[claim.ndc]
                qty = claim.quantity if drug.is_brand else claim.quantity + drug.typical_qty
                rebill = factory.claim(
                    location=locations[claim.location],
                    patient=patients[(claim.location, claim.patient_id)],
                    drug=drug,
                    rx=claim.rx_number,
                    fill=claim.fill_number,
                    dos=claim.date_of_service,
                    days=claim.days_supply * int(qty / claim.quantity),
                    prescriber=next(
                        p for p in factory.prescribers if p.npi == claim.prescriber_npi
                    ),
                    transaction="B3",
                    transaction_date=when,
                    qty=qty,
                )
                out.append(rebill)
    return out


def make_nadac(prices: Prices, year: int) -> list[NadacPrice]:
    return [
        NadacPrice(ndc=ndc, effective=date(year, m + 1, 1), per_unit=unit)
        for ndc, months in sorted(prices.monthly.items())
        for m, unit in enumerate(months)
    ]


def make_invoices(
    claims: list[Claim], locations: dict[str, Location], prices: Prices
) -> list[InvoiceLine]:
    """Wholesaler invoices per store and month: enough whole packages for what was billed."""
    need: dict[tuple[str, int, int, str], Decimal] = {}
    for c in claims:
        if c.transaction == "B2":
            continue
        k = (c.location, c.date_of_service.year, c.date_of_service.month, c.ndc)
        need[k] = need.get(k, Decimal(0)) + c.quantity
    lines = []
    for (loc, year, month, ndc), qty in sorted(need.items()):
        drug = DRUG_BY_NDC[ndc]
        day = date(year, month, 1)
        lines.append(
            InvoiceLine(
                location=loc,
                invoice_number=f"W{loc[-3:]}{year % 100:02d}{month:02d}",
                invoice_date=day,
                ndc=ndc,
                packages=max(1, math.ceil(qty / drug.package_size)),
                package_size=drug.package_size,
                unit_cost=prices.acquisition(locations[loc], ndc, day),
            )
        )
    return lines


def sorted_claims(claims: list[Claim]) -> list[Claim]:
    order = {"B1": 0, "B2": 1, "B3": 2}
    return sorted(
        claims,
        key=lambda c: (
            c.location,
            c.date_of_service,
            c.rx_number,
            c.fill_number,
            order[c.transaction],
            c.transaction_date,
        ),
    )
