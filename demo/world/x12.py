"""Write remittances as ASC X12 005010X221A1 835 interchanges, shaped like PBM pharmacy remits.

Pure and deterministic: the same remittance gives the same bytes (no clock, no randomness; every
date comes from the payment date). Pharmacy remits carry one service line per claim
(`SVC*N4:<NDC>`), put every adjustment on that line, and charge fees, interest and
recoupments at the provider level (PLB). See docs/formats-835.md for the element-by-element
description.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TypeVar

from demo.world.model import Location, Payer, ProviderAdjustment, RemitClaim, Remittance

VERSION = "005010X221A1"
SEND_TIME = "0800"  # ISA10 / GS05: payers batch their 835s; a fixed time keeps output stable
ISA_LENGTH = 106  # the ISA is fixed-width, its segment terminator included
WRAP_WIDTH = 80
MAX_PER_SEGMENT = 6  # CAS reason/amount triplets and PLB adjustment pairs per segment

# CLP06 by plan type. 005010X221A1 has no Part D code, so Part D goes as 16 (HMO Medicare
# risk); commercial as 13 (point of service), which is what real PBM remits carry.
FILING_INDICATOR = {"medicare_d": "16", "commercial": "13", "medicaid": "MC"}

# Made-up payer lockbox cities for 1000A N4, chosen by payer id so a payer keeps its address.
PAYER_CITIES = (
    ("DES MOINES", "IA", "50306"),
    ("OMAHA", "NE", "68103"),
    ("MINNEAPOLIS", "MN", "55440"),
    ("SAINT LOUIS", "MO", "63160"),
    ("MILWAUKEE", "WI", "53201"),
)


@dataclass(frozen=True, slots=True)
class Delimiters:
    """How one delimiter style spells an interchange."""

    element: str
    component: str
    repetition: str
    terminator: str  # ISA position 106: what ends every segment
    line_end: str = ""  # written after each terminator
    wrap: int | None = None  # hard-wrap the finished stream at this many columns


STYLES: dict[str, Delimiters] = {
    "standard": Delimiters("*", ":", "^", "~", line_end="\n"),
    "newline": Delimiters("*", ":", "^", "\n"),
    # non-printing separators and no line breaks, as some PBMs send them: 0x1F (US) between
    # elements, 0x1E (RS) after each segment. pyx12 rejects a control character in ISA16, so
    # the component separator stays ':'.
    "control": Delimiters("\x1f", ":", "^", "\x1e"),
    # standard delimiters, then the whole stream cut into fixed-width lines, even mid-element
    "wrapped": Delimiters("*", ":", "^", "~", wrap=WRAP_WIDTH),
}

T = TypeVar("T")

# A segment is a list of elements; a tuple element is a composite, joined with the component
# separator.
Element = str | tuple[str, ...]
Segment = list[Element]


def remittance_to_x12(
    remit: Remittance,
    *,
    payer: Payer,
    location: Location,
    interchange_control: int,
    delimiters: str | None = None,
) -> bytes:
    """One complete 835 interchange (ISA/GS/ST..SE/GE/IEA) for one remittance: one payer,
    one payee store, one payment. `delimiters` overrides `payer.delimiters`."""
    return remittances_to_x12(
        [remit],
        payer=payer,
        locations={location.ncpdp: location},
        interchange_control=interchange_control,
        delimiters=delimiters,
    )


def remittances_to_x12(
    remits: Sequence[Remittance],
    *,
    payer: Payer,
    locations: Mapping[str, Location],
    interchange_control: int,
    delimiters: str | None = None,
) -> bytes:
    """One interchange holding one 835 transaction (ST..SE) per remittance, all from the same
    payer, as a PBM sends a chain that takes central payment. The interchange is addressed to
    the first remittance's store: the model has no chain-level receiver id."""
    if not remits:
        raise ValueError("an interchange needs at least one remittance")
    if not 0 < interchange_control < 10**9:
        raise ValueError(f"interchange control {interchange_control} does not fit ISA13")
    style = _style(delimiters or payer.delimiters)
    for remit in remits:
        if remit.payer != payer.key:
            raise ValueError(f"remittance for payer {remit.payer!r} written as {payer.key!r}")
        if remit.location not in locations:
            raise ValueError(f"no location for NCPDP {remit.location!r}")
        _check_balanced(remit)
    day = remits[0].payment_date
    receiver = locations[remits[0].location]
    group = str(interchange_control)
    segments: list[Segment] = [
        _isa(payer, receiver, day, interchange_control, style),
        ["GS", "HP", payer.payer_id, receiver.npi, f"{day:%Y%m%d}", SEND_TIME, group, "X", VERSION],
    ]
    for number, remit in enumerate(remits, start=1):
        segments.extend(_transaction(remit, payer, locations[remit.location], number))
    segments.append(["GE", str(len(remits)), group])
    segments.append(["IEA", "1", f"{interchange_control:09d}"])
    return _render(segments, style)


def _style(name: str) -> Delimiters:
    try:
        return STYLES[name]
    except KeyError:
        raise ValueError(f"unknown delimiter style {name!r}; one of {sorted(STYLES)}") from None


def _check_balanced(remit: Remittance) -> None:
    """Refuse input that cannot make a compliant 835: the TR3 balancing rules, plus its rule
    that a payment is never negative (a payer nets a negative week to zero with a PLB FB
    forward balance and recovers it from the next payment)."""
    for c in remit.claims:
        adjusted = sum(a.amount_cents for a in c.adjustments)
        if c.charge_cents - c.paid_cents != adjusted:
            raise ValueError(
                f"claim {c.rx_ref}: charge {c.charge_cents} - paid {c.paid_cents} "
                f"!= adjustments {adjusted}"
            )
        # CLP05 must equal the PR adjustments (RFI 2548); a reversal negates both
        patient = sum(a.amount_cents for a in c.adjustments if a.group == "PR")
        if c.patient_resp_cents != patient:
            raise ValueError(
                f"claim {c.rx_ref}: patient responsibility {c.patient_resp_cents} "
                f"!= PR adjustments {patient}"
            )
    for a in remit.provider_adjustments:
        if a.amount_cents == 0:
            raise ValueError(f"PLB {a.reason}:{a.reference} has a zero amount")
    paid = sum(c.paid_cents for c in remit.claims) - sum(
        a.amount_cents for a in remit.provider_adjustments
    )
    if paid != remit.paid_cents:
        raise ValueError(f"payment {remit.paid_cents} != claims less PLB {paid}")
    if paid < 0:
        raise ValueError(
            f"remittance {remit.trace_number} nets to {_money(paid)}: an 835 payment cannot "
            "be negative; carry the balance forward with a PLB FB adjustment"
        )


def _isa(payer: Payer, receiver: Location, day: date, control: int, d: Delimiters) -> Segment:
    """ISA: fixed-width, so every element is padded to its size and none is dropped."""
    sender, receiver_id = _fixed(payer.payer_id, 15), _fixed(receiver.npi, 15)
    return [
        *["ISA", "00", " " * 10, "00", " " * 10, "ZZ", sender, "ZZ", receiver_id],
        *[f"{day:%y%m%d}", SEND_TIME, d.repetition, "00501", f"{control:09d}", "0", "P"],
        d.component,
    ]


def _transaction(remit: Remittance, payer: Payer, location: Location, number: int) -> list[Segment]:
    """ST..SE for one remittance."""
    control = f"{number:04d}"
    body: list[Segment] = [
        # no ST03: the TR3 asks for 005010X221A1 there, but pyx12's 835 map marks ST03 not used
        # and fails the file; GS08 already names the implementation guide
        ["ST", "835", control],
        _bpr(remit, payer, location),
        ["TRN", "1", _text(remit.trace_number), _payer_tin(payer)],
        ["DTM", "405", f"{remit.payment_date:%Y%m%d}"],
        *_payer_loop(payer),
        *_payee_loop(location),
    ]
    if remit.claims:
        body.append(["LX", "1"])
        for claim in remit.claims:
            body.extend(_claim_loop(claim, payer))
    body.extend(_plb_segments(remit.provider_adjustments, location, remit.payment_date.year))
    body.append(["SE", str(len(body) + 1), control])
    return body


def _bpr(remit: Remittance, payer: Payer, location: Location) -> Segment:
    """BPR: an ACH credit when money moves; H/NON (notification only) when the net is zero,
    which is what the TR3 asks for a zero payment."""
    paid_on = f"{remit.payment_date:%Y%m%d}"
    amount = _money(remit.paid_cents)
    if remit.paid_cents == 0:
        return ["BPR", "H", amount, "C", "NON", *[""] * 11, paid_on]
    payer_digits = _digits(payer.payer_id)
    # BPR06-09 the payer's bank and account, BPR12-15 the store's: made up, but well-formed
    sender = ["01", _routing("07" + payer_digits[-6:]), "DA", "9" + payer_digits]
    receiver = ["01", _routing("04" + location.npi[-6:]), "DA", "3" + location.npi]
    tin = _payer_tin(payer)
    return ["BPR", "I", amount, "C", "ACH", "CCP", *sender, tin, "", *receiver, paid_on]


def _payer_loop(payer: Payer) -> list[Segment]:
    """Loop 1000A. PER*BL (technical contact) is required by the TR3."""
    city, state, zip_code = PAYER_CITIES[int(_digits(payer.payer_id) or "0") % len(PAYER_CITIES)]
    return [
        ["N1", "PR", _text(payer.name)],
        ["N3", f"PO BOX {_digits(payer.payer_id)[-5:]}"],
        ["N4", city, state, zip_code],
        ["REF", "2U", _text(payer.payer_id)],
        ["PER", "BL", "PROVIDER EDI SUPPORT", "TE", "80055501" + _digits(payer.payer_id)[-2:]],
    ]


def _payee_loop(location: Location) -> list[Segment]:
    """Loop 1000B: the store by NPI, with its NCPDP (NABP) number as REF*D3."""
    return [
        ["N1", "PE", _text(location.name), "XX", location.npi],
        ["N3", _text(location.street)],
        ["N4", _text(location.city), location.state, location.zip],
        ["REF", "D3", location.ncpdp],
    ]


def _claim_loop(claim: RemitClaim, payer: Payer) -> list[Segment]:
    """Loops 2100 and 2110: the claim and its single service line. Every adjustment goes on
    the line, so SVC02/SVC03 repeat CLP03/CLP04 and both levels balance with the same CAS."""
    charge, paid = _money(claim.charge_cents), _money(claim.paid_cents)
    # CLP05 is sent only when there is a patient responsibility
    patient = _money(claim.patient_resp_cents) if claim.patient_resp_cents else ""
    filing = FILING_INDICATOR.get(payer.plan_type, "ZZ")
    rx_ref, last, first = _text(claim.rx_ref), _text(claim.patient_last), _text(claim.patient_first)
    return [
        ["CLP", rx_ref, claim.status, charge, paid, patient, filing, _text(claim.payer_claim_id)],
        ["NM1", "QC", "1", last, first, "", "", "", "MI", _text(claim.cardholder_id)],
        ["SVC", ("N4", claim.ndc), charge, paid, "", _quantity(claim.quantity)],
        ["DTM", "472", f"{claim.date_of_service:%Y%m%d}"],
        *_cas_segments(claim),
        ["REF", "6R", rx_ref],
    ]


def _cas_segments(claim: RemitClaim) -> list[Segment]:
    """One CAS per group code in order of first appearance, up to six reason/amount triplets
    each (CAS04, the quantity, stays empty); a seventh reason of a group starts another CAS."""
    by_group: dict[str, list[tuple[str, int]]] = {}
    for a in claim.adjustments:
        by_group.setdefault(a.group, []).append((a.reason, a.amount_cents))
    segments: list[Segment] = []
    for group, items in by_group.items():
        for chunk in _chunks(items):
            segment: Segment = ["CAS", group]
            for reason, cents in chunk:
                segment.extend([reason, _money(cents), ""])
            segments.append(segment)
    return segments


def _plb_segments(
    adjustments: Sequence[ProviderAdjustment], location: Location, year: int
) -> list[Segment]:
    """PLB after the last claim: up to six adjustments per segment. The fiscal period date
    is the last day of the payment year, as most payers send."""
    segments: list[Segment] = []
    for chunk in _chunks(list(adjustments)):
        segment: Segment = ["PLB", location.npi, f"{year}1231"]
        for a in chunk:
            identifier = (a.reason, _text(a.reference)) if a.reference else a.reason
            segment.extend([identifier, _money(a.amount_cents)])
        segments.append(segment)
    return segments


def _render(segments: list[Segment], d: Delimiters) -> bytes:
    """Join elements and segments with the style's delimiters. Empty trailing elements are
    dropped, as X12 requires; the ISA keeps every element since it is fixed-width."""
    text = "".join(_render_segment(s, d) + d.terminator + d.line_end for s in segments)
    isa = text[:ISA_LENGTH]
    if not isa.startswith("ISA") or isa[-1] != d.terminator:
        raise AssertionError(f"ISA is not {ISA_LENGTH} characters: {isa!r}")
    if d.wrap:
        text = "".join(text[i : i + d.wrap] + "\n" for i in range(0, len(text), d.wrap))
    return text.encode("ascii")


def _render_segment(segment: Segment, d: Delimiters) -> str:
    elements = [e if isinstance(e, str) else _join_composite(e, d) for e in segment]
    if elements[0] != "ISA":
        while elements and elements[-1] == "":
            elements.pop()
    return d.element.join(elements)


def _join_composite(components: tuple[str, ...], d: Delimiters) -> str:
    parts = list(components)
    while parts and parts[-1] == "":
        parts.pop()
    return d.component.join(parts)


def _chunks(items: list[T]) -> list[list[T]]:
    return [items[i : i + MAX_PER_SEGMENT] for i in range(0, len(items), MAX_PER_SEGMENT)]


def _money(cents: int) -> str:
    """X12 R-type dollars from integer cents, never through float: 12345 -> 123.45."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _quantity(quantity: Decimal) -> str:
    """SVC05 units: an integer or a decimal without trailing zeros (30, 2.5)."""
    return format(quantity.normalize(), "f")


def _text(value: str) -> str:
    """Data values in the X12 basic character set: ASCII, upper case, and none of the
    delimiter characters of any style (a stray '*' or '~' would split the segment)."""
    ascii_text = (
        unicodedata.normalize("NFKD", value.replace("\u2014", "-").replace("\u2013", "-"))
        .encode("ascii", "ignore")
        .decode("ascii")
        .upper()
    )
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 &'(),-./")
    cleaned = "".join(ch if ch in allowed else " " for ch in ascii_text)
    return " ".join(cleaned.split())


def _fixed(value: str, width: int) -> str:
    """A fixed-width ISA element, padded with spaces."""
    if len(value) > width:
        raise ValueError(f"{value!r} is longer than the {width} characters the ISA allows")
    return value.ljust(width)


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _payer_tin(payer: Payer) -> str:
    """TRN03 and BPR10: '1' followed by a nine-digit identifier (the TR3 asks for the payer's
    EIN; we use the last nine digits of the payer id, zero-padded)."""
    return "1" + _digits(payer.payer_id)[-9:].rjust(9, "0")


def _routing(eight: str) -> str:
    """A well-formed (made-up) ABA routing number: eight digits plus the ABA check digit
    (weights 3, 7, 1), so bank-number validators accept it."""
    eight = eight.rjust(8, "0")[-8:]
    weights = (3, 7, 1, 3, 7, 1, 3, 7)
    total = sum(int(ch) * w for ch, w in zip(eight, weights, strict=True))
    return eight + str((10 - total % 10) % 10)
