"""Inbound HL7 v2 messages read into plain dataclasses: RDS^O13 (a pharmacy dispense, one
fill per ORDER group), VXU^V04 (immunizations, one dose per ORDER group) and ADT^A08
(a patient's demographics).

How a message is read (see `structure` for why hl7apy is used for the structure and not for
every field): segments and fields by the segment reader of `clinical.hl7.ack`
(`read_segments`, `unescape`), the segment order against hl7apy's v2.5.1 structures, then
the fields each mapping needs (README.md lists them). Every problem is an `Issue` naming
the segment, its occurrence, the field position (`RXD-2`), an HL7 table 0357 error code
and the reason in words a pharmacy's interface analyst can act on.

A message that cannot be taken at all (no MSH, no control id, a type or version we do not
take, segments out of order) raises `Rejected` (answered AR); the fields of a readable
message are checked per order group, and a group with problems is left out and reported
(answered AE when anything was wrong). Normalized once, here: NDC to 11 digits, dates from
HL7 DTM, money as a two-decimal string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from clinical.hl7.ack import AckError, Segment, read_segments
from integrations.hl7.structure import STRUCTURES, structure_problem

# HL7 table 0357 (message error condition codes)
ERROR_CODES = {
    "0": "Message accepted",
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "202": "Unsupported processing id",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "205": "Duplicate key identifier",
    "206": "Application record locked",
    "207": "Application internal error",
}
SUPPORTED = {("RDS", "O13"), ("VXU", "V04"), ("ADT", "A08")}
PROCESSING_IDS = frozenset({"P", "T", "D"})
_NDC_SHAPES = {(4, 4, 2), (5, 3, 2), (5, 4, 1), (5, 4, 2)}
_MONEY = re.compile(r"^-?\d{1,9}(\.\d{1,2})?$")
_DTM = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{0,6})(\.\d{1,4})?([+-]\d{4})?$")


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem, as an ERR segment will carry it."""

    reason: str
    segment: str = ""  # "RXD"; "" for the message as a whole
    position: int | None = None  # field number: 2 for RXD-2
    sequence: int = 1  # which occurrence of the segment (the 2nd RXD is 2)
    code: str = "207"  # HL7 table 0357
    severity: str = "E"  # table 0516: E error, W warning, I information
    group: int | None = None  # the order group (1-based) it belongs to, if any

    @property
    def location(self) -> str:
        """'RXD-2', 'ZCL', or ''."""
        if self.segment and self.position is not None:
            return f"{self.segment}-{self.position}"
        return self.segment

    def as_dict(self) -> dict[str, object]:
        return {
            "location": self.location,
            "sequence": self.sequence,
            "code": self.code,
            "severity": self.severity,
            "reason": self.reason,
        }


class Rejected(ValueError):
    """The message as a whole cannot be taken (answered AR)."""

    def __init__(self, issue: Issue) -> None:
        self.issue = issue
        super().__init__(issue.reason)


@dataclass(frozen=True, slots=True)
class Header:
    sending_application: str  # MSH-3.1
    sending_facility: str  # MSH-4.1: the store's NCPDP ID or NPI
    message_type: str  # MSH-9.1
    trigger: str  # MSH-9.2
    control_id: str  # MSH-10
    processing_id: str  # MSH-11.1
    version: str  # MSH-12.1

    @property
    def kind(self) -> str:
        """'RDS^O13'."""
        return f"{self.message_type}^{self.trigger}"


@dataclass(frozen=True, slots=True)
class PatientData:
    """PID as the store's PMS knows the patient: PID-3's first identifier is its own number."""

    patient_id: str  # PID-3.1
    last_name: str  # PID-5.1
    first_name: str  # PID-5.2
    birth_date: date | None  # PID-7
    sex: str  # PID-8 (F, M, U; "" when not sent)
    postal_code: str  # PID-11.5
    phone: str  # PID-13: number (1st component, or area code + local number)


@dataclass(frozen=True, slots=True)
class Dispense:
    """One RDS^O13 ORDER group as a fill row under the canonical PMS columns."""

    group: int
    row: dict[str, str]  # docs/formats.md canonical column -> value as the CSV writes it
    where: dict[str, str]  # canonical column -> the HL7 field it came from ("RXD-2")


@dataclass(frozen=True, slots=True)
class Dose:
    """One VXU^V04 ORDER group as a row of the immunization file (docs/formats.md)."""

    group: int
    record_id: str  # ORC-3.1, the sender's id for the dose
    values: dict[str, str]  # clinical.ingest.immunizations.COLUMNS -> value
    vis_given_on: date | None  # OBX 29769-7 (the file has only the edition date)
    where: dict[str, str]  # column -> HL7 field


@dataclass
class Parsed:
    header: Header
    patient: PatientData | None = None
    dispenses: list[Dispense] = field(default_factory=list)
    doses: list[Dose] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)  # problems with parts left out


# --- fields --------------------------------------------------------------------------------


def hl7_date(value: str) -> date | None:
    """The day of an HL7 DTM (YYYYMMDD[HHMM[SS[.S]]][+ZZZZ]); None when it is not one."""
    m = _DTM.match(value.strip())
    if not m or len(m.group(4)) % 2:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def ndc11(value: str) -> str | None:
    """NDC to 11 digits: 11 digits as sent, a hyphenated 10-digit code padded in its short
    part (4-4-2, 5-3-2, 5-4-1); an unhyphenated 10-digit code is ambiguous and refused."""
    text = value.strip().replace(" ", "")
    if len(text) == 11 and text.isdigit():
        return text
    parts = text.split("-")
    shape = tuple(len(p) for p in parts)
    if all(p.isdigit() for p in parts) and shape in _NDC_SHAPES:
        return parts[0].zfill(5) + parts[1].zfill(4) + parts[2].zfill(2)
    return None


def _number(value: str) -> Decimal | None:
    try:
        d = Decimal(value.strip())
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _first(segments: list[Segment], name: str) -> Segment | None:
    return next((s for s in segments if s.name == name), None)


def _occurrence(segments: list[Segment], seg: Segment) -> int:
    return sum(1 for s in segments[: seg.index] if s.name == seg.name)


# --- header --------------------------------------------------------------------------------


def read_message(text: str) -> tuple[Header, list[Segment]]:
    """The header and segments of a message; `Rejected` when it cannot be taken at all."""
    body = text.strip("\x0b\x1c\r\n ")
    if not body:
        raise Rejected(Issue("The message is empty.", "MSH", code="100"))
    if not body.startswith("MSH") or len(body) < 8:
        raise Rejected(
            Issue(
                f"The message does not start with an MSH segment: {body[:20]!r}.", "MSH", code="100"
            )
        )
    try:
        segments = read_segments(body)
    except AckError as exc:  # a line without a segment id
        raise Rejected(Issue(str(exc), code="100")) from None
    msh = segments[0]
    header = Header(
        sending_application=msh.component(3),
        sending_facility=msh.component(4),
        message_type=msh.component(9, 1).upper(),
        trigger=msh.component(9, 2).upper(),
        control_id=msh.component(10),
        processing_id=msh.component(11).upper(),
        version=msh.component(12),
    )
    if not header.control_id:
        raise Rejected(Issue("MSH-10 message control id is missing.", "MSH", 10, code="101"))
    if not header.sending_facility:
        raise Rejected(Issue("MSH-4 sending facility is missing.", "MSH", 4, code="101"))
    if header.message_type not in {t for t, _ in SUPPORTED}:
        raise Rejected(
            Issue(
                f"Message type {header.message_type or '(none)'} is not taken here "
                "(RDS^O13, VXU^V04 and ADT^A08 are).",
                "MSH",
                9,
                code="200",
            )
        )
    if (header.message_type, header.trigger) not in SUPPORTED:
        raise Rejected(
            Issue(
                f"Event {header.kind} is not taken here (RDS^O13, VXU^V04 and ADT^A08 are).",
                "MSH",
                9,
                code="201",
            )
        )
    if header.processing_id not in PROCESSING_IDS:
        raise Rejected(
            Issue(
                f"MSH-11 processing id {header.processing_id!r} is not P, T or D.",
                "MSH",
                11,
                code="202",
            )
        )
    if not re.match(r"^2\.[3-9](\.\d)?$", header.version):
        raise Rejected(
            Issue(
                f"MSH-12 version {header.version!r} is not an HL7 v2.3 to v2.9 version.",
                "MSH",
                12,
                code="203",
            )
        )
    problem = structure_problem(
        STRUCTURES[(header.message_type, header.trigger)], [s.name for s in segments]
    )
    if problem is not None:
        allowed = ", ".join(problem.expected) or "nothing more"
        if problem.segment:
            reason = (
                f"Segment {problem.index + 1} ({problem.segment}) is out of place for "
                f"{header.kind}: expected {allowed} there."
            )
        else:
            reason = f"The message ends where {header.kind} needs one of: {allowed}."
        raise Rejected(Issue(reason, problem.segment, code="100"))
    return header, segments


# --- PID -----------------------------------------------------------------------------------


def read_patient(segments: list[Segment], issues: list[Issue]) -> PatientData | None:
    """The PID, or None with the issues (a patient id, a name and a birth date are needed)."""
    pid = _first(segments, "PID")
    if pid is None:
        issues.append(Issue("The message has no PID segment.", "PID", code="100"))
        return None
    found = len(issues)
    patient_id = pid.component(3, 1).strip()
    if not patient_id:
        issues.append(Issue("PID-3 patient id is missing.", "PID", 3, code="101"))
    last, first = pid.component(5, 1).strip(), pid.component(5, 2).strip()
    if not last or not first:
        issues.append(
            Issue("PID-5 patient name needs a family and a given name.", "PID", 5, code="101")
        )
    raw_dob = pid.component(7)
    dob = hl7_date(raw_dob) if raw_dob else None
    if not raw_dob:
        issues.append(Issue("PID-7 birth date is missing.", "PID", 7, code="101"))
    elif dob is None:
        issues.append(
            Issue(f"PID-7 birth date {raw_dob!r} is not a date (YYYYMMDD).", "PID", 7, code="102")
        )
    sex = pid.component(8).strip().upper()
    if sex and sex not in {"F", "M", "U", "O", "A", "N"}:
        issues.append(Issue(f"PID-8 sex {sex!r} is not in HL7 table 0001.", "PID", 8, code="103"))
    phone = pid.component(13, 1).strip() or (pid.component(13, 6) + pid.component(13, 7)).strip()
    if len(issues) > found:
        return None
    return PatientData(
        patient_id=patient_id[:40],
        last_name=last[:100],
        first_name=first[:100],
        birth_date=dob,
        sex=sex if sex in {"F", "M", "U"} else "",
        postal_code=pid.component(11, 5).strip()[:10],
        phone=re.sub(r"[^\d]", "", phone)[:20],
    )


def _groups(segments: list[Segment]) -> list[list[Segment]]:
    """The ORDER groups: each starts at an ORC and runs to the next one."""
    groups: list[list[Segment]] = []
    for seg in segments:
        if seg.name == "ORC":
            groups.append([seg])
        elif groups:
            groups[-1].append(seg)
    return groups


# --- RDS^O13 -------------------------------------------------------------------------------

# ZCL, this interface's claim segment (README.md): NCPDP D.0 claim and response fields
ZCL_FIELDS = {
    1: "transaction_code",  # 103-A3: B1, B2, B3
    2: "bin",  # 101-A1
    3: "pcn",  # 104-A4
    4: "group_id",  # 301-C1
    5: "cardholder_id",  # 302-C2
    6: "plan_name",
    7: "usual_and_customary",  # 426-DQ
    8: "ingredient_cost_paid",  # 506-F6
    9: "dispensing_fee_paid",  # 507-F7
    10: "patient_pay_amount",  # 505-F5
    11: "total_amount_paid",  # 509-F9
    12: "basis_of_reimbursement",  # 522-FM
    13: "authorization_number",  # 503-F3
    14: "acquisition_cost",
}
ZCL_MONEY = {7, 8, 9, 10, 11, 14}
ZCL_REQUIRED = {8, 9, 10, 11}  # the adjudicated amounts every fill carries (REQUIRED columns)


def _dispense(
    all_segments: list[Segment], group: list[Segment], n: int, issues: list[Issue]
) -> Dispense | None:
    found = len(issues)
    row: dict[str, str] = {}
    where: dict[str, str] = {}

    def problem(seg: Segment | str, position: int | None, code: str, reason: str) -> None:
        name = seg if isinstance(seg, str) else seg.name
        seq = 1 if isinstance(seg, str) else _occurrence(all_segments, seg)
        issues.append(Issue(reason, name, position, seq, code, group=n))

    def put(column: str, value: str, source: str) -> None:
        row[column] = value
        where[column] = source

    orc = group[0]
    rxd = _first(group, "RXD")
    rxe = _first(group, "RXE")
    tq1 = _first(group, "TQ1")
    zcl = _first(group, "ZCL")
    if rxd is None:  # the structure check places one RXD per group
        problem("RXD", None, "100", f"Order group {n} has no RXD segment.")
        return None
    # Rx number: RXD-7, else RXE-15, else ORC-2 (the placer order number)
    for seg, pos in ((rxd, 7), (rxe, 15), (orc, 2)):
        if seg is not None and seg.component(pos).strip():
            rx = seg.component(pos).strip()
            if rx.isdigit() and len(rx) <= 18:
                put("rx_number", rx, f"{seg.name}-{pos}")
            else:
                problem(seg, pos, "102", f"Prescription number {rx!r} is not a number.")
            break
    else:
        problem(rxd, 7, "101", "RXD-7 prescription number is missing (nor RXE-15 or ORC-2).")
    counter = rxd.component(1).strip()
    if not counter:
        problem(rxd, 1, "101", "RXD-1 dispense sub-ID counter is missing.")
    elif not counter.isdigit() or int(counter) < 1:
        problem(rxd, 1, "102", f"RXD-1 dispense sub-ID counter {counter!r} is not 1 or more.")
    else:
        # RXD-1 counts dispenses from 1; NCPDP numbers the original fill 0
        put("fill_number", str(int(counter) - 1), "RXD-1")
    raw = rxd.component(3)
    dispensed = hl7_date(raw)
    if not raw:
        problem(rxd, 3, "101", "RXD-3 date dispensed is missing.")
    elif dispensed is None:
        problem(rxd, 3, "102", f"RXD-3 date dispensed {raw!r} is not a date (YYYYMMDD).")
    else:
        put("date_of_service", dispensed.isoformat(), "RXD-3")
    code, system = rxd.component(2, 1), rxd.component(2, 3).upper()
    if system not in ("", "NDC") and rxd.component(2, 6).upper() == "NDC":
        code, system = rxd.component(2, 4), "NDC"  # the NDC as the alternate code
    ndc = ndc11(code) if system in ("", "NDC") else None
    if not code:
        problem(rxd, 2, "101", "RXD-2 dispense code (NDC) is missing.")
    elif ndc is None:
        problem(rxd, 2, "103", f"RXD-2 {code!r} ({system or 'no coding system'}) is not an NDC.")
    else:
        put("ndc", ndc, "RXD-2")
        if rxd.component(2, 2).strip():
            put("drug_name", rxd.component(2, 2).strip()[:200], "RXD-2.2")
    qty = rxd.component(4)
    quantity = _number(qty) if qty else None
    if not qty:
        problem(rxd, 4, "101", "RXD-4 actual dispense amount is missing.")
    elif quantity is None:
        problem(rxd, 4, "102", f"RXD-4 actual dispense amount {qty!r} is not a number.")
    else:
        put("quantity_dispensed", format(quantity, "f"), "RXD-4")
    # days supply: v2.5.1's RXD has none; TQ1-6 service duration (e.g. 30^d) carries it
    duration = tq1.component(6, 1).strip() if tq1 is not None else ""
    unit = tq1.component(6, 2).strip().lower() if tq1 is not None else ""
    if not duration:
        problem(
            "TQ1",
            6,
            "101",
            "TQ1-6 service duration (the days supply, as 30 with unit d) is missing.",
        )
    elif not duration.isdigit() or unit not in ("", "d", "day", "days"):
        problem(
            "TQ1",
            6,
            "102",
            f"TQ1-6 service duration {duration!r} (unit {unit!r}) is not whole days.",
        )
    else:
        put("days_supply", duration, "TQ1-6")
    daw = rxd.component(11).strip()
    if daw.isdigit():  # table 0167's digits are the NCPDP DAW codes; N, G, T are not
        put("daw_code", daw, "RXD-11")
    # prescriber: ORC-12 ordering provider, else RXE-13
    for seg, pos in ((orc, 12), (rxe, 13)):
        if seg is not None and seg.component(pos, 1).strip():
            npi = seg.component(pos, 1).strip()
            if npi.isdigit() and len(npi) == 10:
                put("prescriber_npi", npi, f"{seg.name}-{pos}")
                name = ", ".join(
                    p for p in (seg.component(pos, 2).strip(), seg.component(pos, 3).strip()) if p
                )
                if name:
                    put("prescriber_name", name[:200], f"{seg.name}-{pos}")
            break
    if zcl is None:
        problem(
            "ZCL",
            None,
            "101",
            "ZCL claim segment is missing: a fill needs the plan's adjudicated amounts "
            "(ZCL-8 ingredient cost paid, ZCL-9 dispensing fee paid, ZCL-10 patient pay, "
            "ZCL-11 total paid), which RDS^O13 does not carry.",
        )
    else:
        for pos, column in ZCL_FIELDS.items():
            value = zcl.component(pos).strip()
            if not value:
                if pos in ZCL_REQUIRED:
                    problem(zcl, pos, "101", f"ZCL-{pos} {column.replace('_', ' ')} is missing.")
                continue
            if pos in ZCL_MONEY and not _MONEY.match(value):
                problem(zcl, pos, "102", f"ZCL-{pos} {value!r} is not an amount like 12.34.")
                continue
            if pos == 1 and value.upper() not in ("B1", "B2", "B3"):
                problem(zcl, 1, "103", f"ZCL-1 transaction code {value!r} is not B1, B2 or B3.")
                continue
            put(column, value.upper() if pos == 1 else value[:200], f"ZCL-{pos}")
    row.setdefault("transaction_code", "B1")
    if row["transaction_code"] == "B2":
        row["claim_status"] = "reversed"
    else:
        row["claim_status"] = "paid" if row.get("bin") else "cash"
    if len(issues) > found:
        return None
    return Dispense(group=n, row=row, where=where)


def read_rds(header: Header, segments: list[Segment]) -> Parsed:
    parsed = Parsed(header)
    parsed.patient = read_patient(segments, parsed.issues)
    for n, group in enumerate(_groups(segments), start=1):
        dispense = _dispense(segments, group, n, parsed.issues)
        if dispense is not None and parsed.patient is not None:
            p = parsed.patient
            dispense.row.update(
                {
                    "patient_id": p.patient_id,
                    "patient_last_name": p.last_name,
                    "patient_first_name": p.first_name,
                    "patient_dob": p.birth_date.isoformat() if p.birth_date else "",
                    "patient_sex": p.sex,
                    "patient_zip": p.postal_code,
                    "patient_phone": p.phone,
                }
            )
            dispense.where.update(
                {
                    "patient_id": "PID-3",
                    "patient_last_name": "PID-5",
                    "patient_first_name": "PID-5",
                    "patient_dob": "PID-7",
                    "patient_sex": "PID-8",
                    "patient_zip": "PID-11",
                    "patient_phone": "PID-13",
                    "pharmacy_ncpdp": "MSH-4",
                }
            )
            parsed.dispenses.append(dispense)
    return parsed


# --- VXU^V04 -------------------------------------------------------------------------------

VIS_PUBLISHED, VIS_PRESENTED, FUNDING = "29768-9", "29769-7", "64994-7"


def _dose(
    all_segments: list[Segment], group: list[Segment], n: int, issues: list[Issue]
) -> Dose | None:
    orc, rxa, rxr = group[0], _first(group, "RXA"), _first(group, "RXR")
    if rxa is None:
        issues.append(Issue(f"Order group {n} has no RXA segment.", "RXA", code="100", group=n))
        return None
    seq = _occurrence(all_segments, rxa)

    def warn(position: int, reason: str) -> None:
        issues.append(Issue(reason, "RXA", position, seq, "207", "W", group=n))

    status = rxa.component(20).strip().upper() or "CP"
    if status != "CP":  # refused, not administered, partial: nothing to record
        warn(20, f"RXA-20 completion status {status}: no dose was given, nothing recorded.")
        return None
    action = rxa.component(21).strip().upper() or "A"
    if action not in ("A", "U"):
        warn(21, f"RXA-21 action code {action}: deleting a dose by message is not supported.")
        return None
    source = rxa.component(9, 1).strip()
    if source and source != "00":
        warn(9, f"RXA-9 information source {source}: a historical dose is not recorded here.")
        return None
    cvx, system = rxa.component(5, 1), rxa.component(5, 3).upper()
    if system != "CVX" and rxa.component(5, 6).upper() == "CVX":
        cvx, system = rxa.component(5, 4), "CVX"
    observations: dict[str, str] = {}
    for obx in group:
        if obx.name == "OBX":
            observations.setdefault(obx.component(3, 1), obx.component(5, 1))
    dates: dict[int, str] = {}
    for position in (3, 16):
        raw = rxa.component(position).strip()
        day = hl7_date(raw) if raw else None
        if raw and day is None:
            issues.append(
                Issue(
                    f"RXA-{position} {raw!r} is not a date (YYYYMMDD).",
                    "RXA",
                    position,
                    seq,
                    "102",
                    group=n,
                )
            )
            return None
        dates[position] = day.isoformat() if day else ""
    units = rxa.component(7, 1).strip().lower()
    amount = rxa.component(6).strip()
    vis_given_raw = observations.get(VIS_PRESENTED, "")
    values = {
        "pharmacy_ncpdp": "",  # filled by the service from the resolved store
        "patient_id": "",
        "administered_on": dates[3],
        "cvx": cvx.strip() if system in ("CVX", "") else "",
        "mvx": rxa.component(17, 1).strip(),
        "vaccine": rxa.component(5, 2).strip(),
        "lot": rxa.component(15, 1).strip(),
        "lot_expiration": dates[16],
        "dose_ml": "" if amount == "999" or units not in ("", "ml") else amount,
        "site": rxr.component(2, 1).strip() if rxr is not None else "",
        "route": rxr.component(1, 1).strip() if rxr is not None else "",
        "vis_date": str(hl7_date(observations.get(VIS_PUBLISHED, "")) or ""),
        "pharmacist_npi": rxa.component(10, 1).strip(),
        "funding_eligibility": observations.get(FUNDING, "").strip(),
        "billed_amount": "",
    }
    if values["pharmacist_npi"] and not values["pharmacist_npi"].isdigit():
        values["pharmacist_npi"] = ""  # a local staff id, not an NPI
    where = {
        "administered_on": "RXA-3",
        "cvx": "RXA-5",
        "vaccine": "RXA-5",
        "mvx": "RXA-17",
        "lot": "RXA-15",
        "lot_expiration": "RXA-16",
        "dose_ml": "RXA-6",
        "site": "RXR-2",
        "route": "RXR-1",
        "vis_date": f"OBX-5 ({VIS_PUBLISHED})",
        "pharmacist_npi": "RXA-10",
        "funding_eligibility": f"OBX-5 ({FUNDING})",
        "patient_id": "PID-3",
        "pharmacy_ncpdp": "MSH-4",
    }
    return Dose(
        group=n,
        record_id=orc.component(3, 1).strip(),
        values=values,
        vis_given_on=hl7_date(vis_given_raw) if vis_given_raw else None,
        where=where,
    )


def read_vxu(header: Header, segments: list[Segment]) -> Parsed:
    parsed = Parsed(header)
    parsed.patient = read_patient(segments, parsed.issues)
    groups = _groups(segments)
    if not groups:
        parsed.issues.append(Issue("The VXU carries no ORC/RXA dose.", "ORC", code="100"))
    for n, group in enumerate(groups, start=1):
        dose = _dose(segments, group, n, parsed.issues)
        if dose is not None and parsed.patient is not None:
            dose.values["patient_id"] = parsed.patient.patient_id
            parsed.doses.append(dose)
    return parsed


# --- ADT^A08 -------------------------------------------------------------------------------


def read_adt(header: Header, segments: list[Segment]) -> Parsed:
    parsed = Parsed(header)
    parsed.patient = read_patient(segments, parsed.issues)
    return parsed


def parse_message(text: str) -> Parsed:
    """Read one message. Raises `Rejected` when it cannot be taken at all; otherwise the
    parts that could be read, and an issue for each that could not."""
    header, segments = read_message(text)
    reader = {"RDS": read_rds, "VXU": read_vxu, "ADT": read_adt}[header.message_type]
    return reader(header, segments)


def peek_header(text: str) -> tuple[str, str, str]:
    """(MSH-4.1, MSH-10, "TYPE^TRIGGER") of whatever arrived, "" for what cannot be read;
    never raises (used to file and answer a message that cannot be taken)."""
    body = text.strip("\x0b\x1c\r\n ")
    first = body.replace("\r\n", "\r").replace("\n", "\r").split("\r", 1)[0]
    if not first.startswith("MSH") or len(first) < 8:
        return "", "", ""
    try:
        msh = read_segments(first)[0]
    except AckError:
        return "", "", ""
    kind = f"{msh.component(9, 1)}^{msh.component(9, 2)}".strip("^")
    return msh.component(4)[:200], msh.component(10)[:200], kind[:20]
