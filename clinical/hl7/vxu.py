"""HL7 v2.5.1 VXU^V04 (unsolicited vaccination record update) for a state registry (IIS).

Follows the CDC *HL7 Version 2.5.1 Implementation Guide for Immunization Messaging* R1.5:

- MSH-9 `VXU^V04^VXU_V04`, MSH-12 `2.5.1`, MSH-21 `Z22^CDCPHINVS` (the VXU profile);
- PID (identifier, legal name, birth date, sex);
- one ORDER group per dose: ORC-1 `RE` with our record id in ORC-3, RXA (CVX, dose in mL,
  NIP001 information source, administering provider and facility, lot, expiration, MVX,
  completion and action codes), RXR (route as an NCIT code, site from HL7 table 0163);
- OBX groups, each with its own OBX-4 sub-ID: VFC/funding eligibility (64994-7, table 0064)
  and the VIS given (either 69764-9 document type, or 30956-7 vaccine type, with 29768-9
  publication date and 29769-7 presentation date).

The message is built with hl7apy at STRICT validation level and checked with hl7apy's
structure validation before it is returned. Everything here is plain data in, text out: no
Django, no other app (an import-linter contract keeps it so).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Message
from hl7apy.exceptions import HL7apyException

_T = TypeVar("_T")

PROFILE = "Z22^CDCPHINVS"
APPLICATION = "RxRevOps"
CVX_MVX_FILE = Path(__file__).with_name("cvx_mvx.json")

# RXR-1 route: NCIT codes, as the CDC IG (table 0162 as constrained by the IG) asks
ROUTES: Mapping[str, str] = {
    "C28161": "Intramuscular",
    "C38299": "Subcutaneous",
    "C38238": "Intradermal",
    "C38284": "Nasal",
    "C38288": "Oral",
    "C38305": "Transdermal",
}
# the HL7 0162 abbreviations PMS exports use, mapped once to the NCIT code
ROUTE_ALIASES: Mapping[str, str] = {
    "IM": "C28161",
    "SC": "C38299",
    "ID": "C38238",
    "NS": "C38284",
    "IN": "C38284",
    "PO": "C38288",
    "TD": "C38305",
}
# RXR-2 site: HL7 table 0163
SITES: Mapping[str, str] = {
    "LA": "Left Arm",
    "RA": "Right Arm",
    "LD": "Left Deltoid",
    "RD": "Right Deltoid",
    "LT": "Left Thigh",
    "RT": "Right Thigh",
    "LVL": "Left Vastus Lateralis",
    "RVL": "Right Vastus Lateralis",
    "LG": "Left Gluteous Medius",
    "RG": "Right Gluteous Medius",
    "LLFA": "Left Lower Forearm",
    "RLFA": "Right Lower Forearm",
}
# OBX-5 for 64994-7: HL7 table 0064 (VFC eligibility) as the CDC IG lists it
FUNDING_ELIGIBILITY: Mapping[str, str] = {
    "V01": "Not VFC eligible",
    "V02": "VFC eligible - Medicaid/Medicaid Managed Care",
    "V03": "VFC eligible - Uninsured",
    "V04": "VFC eligible - American Indian/Alaskan Native",
    "V05": "VFC eligible - Federally Qualified Health Center Patient (under-insured)",
    "V06": "VFC eligible - State specific eligibility",
    "V07": "Local-specific eligibility",
}
SEXES = frozenset({"F", "M", "U"})


class VxuError(ValueError):
    """The message could not be built; `problems` names each field and what is wrong."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("VXU not built: " + "; ".join(problems))


@dataclass(frozen=True, slots=True)
class Sender:
    """The pharmacy sending the record (MSH-4, RXA-11.4) and the registry receiving it."""

    facility_id: str  # the id the registry assigned the pharmacy (its NCPDP id until then)
    facility_name: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    processing_id: str = "P"  # P production, T training


@dataclass(frozen=True, slots=True)
class PatientInfo:
    id: str  # PID-3.1: the pharmacy's patient number
    assigning_authority: str  # PID-3.4: whose number it is (the pharmacy)
    last_name: str
    first_name: str
    birth_date: date | None
    sex: str = "U"
    middle_name: str = ""


@dataclass(frozen=True, slots=True)
class Provider:
    npi: str
    last_name: str = ""
    first_name: str = ""


@dataclass(frozen=True, slots=True)
class DoseInfo:
    record_id: str  # ORC-3: our immunization record id (the filler order number)
    administered_on: date | None
    cvx: str
    vaccine: str  # RXA-5.2, the CVX short name
    mvx: str
    dose_ml: Decimal | None
    lot: str
    expiration: date | None
    route: str  # NCIT code (ROUTES)
    site: str  # table 0163 (SITES)
    funding_eligibility: str  # table 0064 (FUNDING_ELIGIBILITY)
    vis_edition_date: date | None
    vis_given_on: date | None
    administering: Provider | None = None
    manufacturer: str = ""  # RXA-17.2; the MVX table's name when blank
    vis_vaccine_type: str = ""  # 30956-7 CVX; the dose's CVX when blank
    vis_document: tuple[str, str] | None = None  # 69764-9 (GDTI code, title) instead


@dataclass(frozen=True, slots=True)
class DoseProblem:
    field: str
    reason: str


# --- code tables -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CvxMvxTable:
    vaccines: Mapping[str, str]  # CVX as CDC writes it -> short name
    makers: Mapping[str, frozenset[str]]  # CVX -> MVX codes of its products
    manufacturers: Mapping[str, str]  # MVX -> name

    def canonical_cvx(self, cvx: str) -> str | None:
        # CVX arrives as "09" or "9" (HL7 vs PMS exports): compare without leading zeros
        wanted = _bare(cvx)
        return next((c for c in self.vaccines if _bare(c) == wanted), None)


def _bare(cvx: str) -> str:
    return cvx.strip().lstrip("0") or "0"


@cache
def cvx_mvx_table(path: Path = CVX_MVX_FILE) -> CvxMvxTable:
    doc = json.loads(path.read_text())
    return CvxMvxTable(
        vaccines={c: str(v["name"]) for c, v in doc["cvx"].items()},
        makers={c: frozenset(v["mvx"]) for c, v in doc["cvx"].items()},
        manufacturers=dict(doc["mvx"]),
    )


def route_code(route: str) -> str:
    """The NCIT code for a route given as NCIT or as its HL7 0162 abbreviation ("IM")."""
    r = route.strip().upper()
    return ROUTE_ALIASES.get(r, r)


# --- dose checks ---------------------------------------------------------------------------


def validate_dose(
    *,
    cvx: str,
    mvx: str,
    administered_on: date,
    expiration: date | None,
    dose_ml: Decimal | None = None,
    today: date | None = None,
    table: CvxMvxTable | None = None,
) -> list[DoseProblem]:
    """What makes this dose unfit to record or report; empty when it is fine.

    A lot expired on the administration date is refused (a lot is good through its
    expiration date), and so is a CVX the shipped table does not list or an MVX that makes
    no product of that CVX (`cvx_mvx.json`).
    """
    table = table or cvx_mvx_table()
    problems = []
    if expiration is not None and expiration < administered_on:
        problems.append(
            DoseProblem(
                "expiration",
                f"The lot expired on {expiration.isoformat()}, before the administration "
                f"date {administered_on.isoformat()}: an expired lot cannot be recorded.",
            )
        )
    if today is not None and administered_on > today:
        problems.append(
            DoseProblem("administered_on", f"{administered_on.isoformat()} is in the future.")
        )
    if dose_ml is not None and dose_ml <= 0:
        problems.append(DoseProblem("dose_ml", "The dose must be more than 0 mL."))
    code = table.canonical_cvx(cvx) if cvx.strip() else None
    maker = mvx.strip().upper()
    if cvx.strip() and code is None:
        problems.append(
            DoseProblem(
                "cvx",
                f"CVX {cvx.strip()} is not in the CVX/MVX table (clinical/hl7/cvx_mvx.json).",
            )
        )
    elif code is not None and maker and maker not in table.makers[code]:
        makers = ", ".join(sorted(table.makers[code]))
        problems.append(
            DoseProblem(
                "mvx",
                f"MVX {maker} makes no CVX {code} ({table.vaccines[code]}) product; "
                f"expected one of {makers}.",
            )
        )
    return problems


# --- the message ---------------------------------------------------------------------------


def escape(value: str) -> str:
    """HL7 escape sequences for the delimiters, so a name like "O'Neil^Jr" stays one value."""
    return (
        value.replace("\\", "\\E\\")
        .replace("|", "\\F\\")
        .replace("^", "\\S\\")
        .replace("&", "\\T\\")
        .replace("~", "\\R\\")
    )


def _dt(d: date) -> str:
    return d.strftime("%Y%m%d")


def _ts(when: datetime) -> str:
    # the IG wants the offset on MSH-7; a naive time is sent as given
    return when.strftime("%Y%m%d%H%M%S%z")


def _input_problems(sender: Sender, patient: PatientInfo, dose: DoseInfo) -> list[str]:
    missing = {
        "MSH-4 sending facility id": sender.facility_id,
        "PID-3 patient id": patient.id,
        "PID-5.1 patient last name": patient.last_name,
        "PID-5.2 patient first name": patient.first_name,
        "PID-7 birth date": patient.birth_date,
        "ORC-3 record id": dose.record_id,
        "RXA-3 administration date": dose.administered_on,
        "RXA-5 vaccine (CVX)": dose.cvx.strip(),
        "RXA-5.2 vaccine name": dose.vaccine.strip(),
        "RXA-6 dose (mL)": dose.dose_ml,
        "RXA-15 lot": dose.lot.strip(),
        "RXA-16 lot expiration": dose.expiration,
        "RXA-17 manufacturer (MVX)": dose.mvx.strip(),
        "RXR-1 route": dose.route.strip(),
        "RXR-2 site": dose.site.strip(),
        "OBX 64994-7 funding eligibility": dose.funding_eligibility.strip(),
        "OBX 29768-9 VIS publication date": dose.vis_edition_date,
        "OBX 29769-7 VIS presentation date": dose.vis_given_on,
    }
    problems = [f"{name} is missing" for name, value in missing.items() if value in (None, "")]
    if patient.sex not in SEXES:
        problems.append(f"PID-8 sex {patient.sex!r} is not one of F, M, U")
    if dose.route.strip() and route_code(dose.route) not in ROUTES:
        problems.append(f"RXR-1 route {dose.route!r} is not a known route code")
    if dose.site.strip() and dose.site.strip().upper() not in SITES:
        problems.append(f"RXR-2 site {dose.site!r} is not in HL7 table 0163")
    fe = dose.funding_eligibility.strip().upper()
    if fe and fe not in FUNDING_ELIGIBILITY:
        problems.append(f"OBX 64994-7 funding eligibility {fe!r} is not in HL7 table 0064")
    if dose.administering is not None and not (
        dose.administering.npi.isdigit() and len(dose.administering.npi) == 10
    ):
        problems.append(f"RXA-10 administering NPI {dose.administering.npi!r} is not 10 digits")
    return problems


def build_vxu(
    *,
    sender: Sender,
    patient: PatientInfo,
    dose: DoseInfo,
    control_id: str,
    sent_at: datetime,
    table: CvxMvxTable | None = None,
) -> str:
    """One VXU^V04 for one administered dose, as ER7 text with CR segment separators.

    Raises `VxuError` listing every missing or unknown input, or every problem hl7apy's
    structure validation finds."""
    problems = _input_problems(sender, patient, dose)
    if not control_id:
        problems.append("MSH-10 message control id is missing")
    if problems:
        raise VxuError(problems)
    table = table or cvx_mvx_table()
    try:
        msg = _message(sender, patient, dose, control_id, sent_at, table)
    except HL7apyException as exc:  # STRICT rejects a bad value as it is set
        raise VxuError([f"hl7apy: {exc}"]) from exc
    errors = structure_errors(msg)
    if errors:
        raise VxuError([f"hl7apy structure validation: {e}" for e in errors])
    er7: str = msg.to_er7()
    return er7


def structure_errors(msg: Any) -> list[str]:
    """Every error hl7apy's structure validation reports (its `validate()` raises only the
    first; the report file lists them all)."""
    fd, report = tempfile.mkstemp(prefix="vxu-validation-", suffix=".txt")
    os.close(fd)
    try:
        with contextlib.suppress(HL7apyException):  # the report lists every error
            msg.validate(report_file=report)
        lines = Path(report).read_text().splitlines()
    finally:
        os.unlink(report)
    return [line.removeprefix("Error: ") for line in lines if line.startswith("Error: ")]


def _need(value: _T | None, name: str) -> _T:
    if value is None:  # checked before building; here for the type checker
        raise VxuError([f"{name} is missing"])
    return value


def _message(
    sender: Sender,
    patient: PatientInfo,
    dose: DoseInfo,
    control_id: str,
    sent_at: datetime,
    table: CvxMvxTable,
) -> Any:
    given_on = _need(dose.administered_on, "RXA-3 administration date")
    expiration = _need(dose.expiration, "RXA-16 lot expiration")
    birth_date = _need(patient.birth_date, "PID-7 birth date")
    dose_ml = _need(dose.dose_ml, "RXA-6 dose (mL)")
    vis_edition = _need(dose.vis_edition_date, "OBX 29768-9 VIS publication date")
    vis_given = _need(dose.vis_given_on, "OBX 29769-7 VIS presentation date")
    e = escape
    msg = Message("VXU_V04", version="2.5.1", validation_level=VALIDATION_LEVEL.STRICT)
    msh = msg.msh
    msh.msh_3 = APPLICATION
    msh.msh_4 = e(sender.facility_id)
    if sender.receiving_application:
        msh.msh_5 = e(sender.receiving_application)
    if sender.receiving_facility:
        msh.msh_6 = e(sender.receiving_facility)
    msh.msh_7 = _ts(sent_at)
    msh.msh_9 = "VXU^V04^VXU_V04"
    msh.msh_10 = e(control_id)
    msh.msh_11 = sender.processing_id
    msh.msh_12 = "2.5.1"
    msh.msh_15 = "ER"  # accept ack: on error only
    msh.msh_16 = "AL"  # application ack: always
    msh.msh_21 = PROFILE

    pid = msg.pid
    pid.pid_1 = "1"
    pid.pid_3 = f"{e(patient.id)}^^^{e(patient.assigning_authority)}^MR"
    pid.pid_5 = f"{e(patient.last_name)}^{e(patient.first_name)}^{e(patient.middle_name)}^^^^L"
    pid.pid_7 = _dt(birth_date)
    pid.pid_8 = patient.sex

    order = msg.add_group("VXU_V04_ORDER")
    order.orc.orc_1 = "RE"
    order.orc.orc_3 = f"{e(dose.record_id)}^{APPLICATION}"

    cvx = table.canonical_cvx(dose.cvx) or dose.cvx.strip()
    mvx = dose.mvx.strip().upper()
    manufacturer = dose.manufacturer or table.manufacturers.get(mvx, "")
    rxa = order.rxa
    rxa.rxa_1 = "0"
    rxa.rxa_2 = "1"
    rxa.rxa_3 = _dt(given_on)
    rxa.rxa_4 = _dt(given_on)
    rxa.rxa_5 = f"{e(cvx)}^{e(dose.vaccine)}^CVX"
    rxa.rxa_6 = format(dose_ml.normalize(), "f")
    rxa.rxa_7 = "mL^mL^UCUM"
    rxa.rxa_9 = "00^New immunization record^NIP001"
    if dose.administering is not None:
        p = dose.administering
        rxa.rxa_10 = f"{p.npi}^{e(p.last_name)}^{e(p.first_name)}^^^^^^NPI^^^^NPI"
    rxa.rxa_11 = f"^^^{e(sender.facility_id)}"
    rxa.rxa_15 = e(dose.lot.strip())
    rxa.rxa_16 = _dt(expiration)
    rxa.rxa_17 = f"{e(mvx)}^{e(manufacturer)}^MVX"
    rxa.rxa_20 = "CP"  # completion status: complete
    rxa.rxa_21 = "A"  # action: add

    route = route_code(dose.route)
    site = dose.site.strip().upper()
    order.rxr.rxr_1 = f"{route}^{ROUTES[route]}^NCIT"
    order.rxr.rxr_2 = f"{site}^{SITES[site]}^HL70163"

    given = _dt(given_on)
    funding = dose.funding_eligibility.strip().upper()
    observations = [
        # sub-ID 1: funding eligibility, captured at the dose (method VXC40)
        (
            "CE",
            "64994-7^Vaccine funding program eligibility category^LN",
            "1",
            f"{funding}^{FUNDING_ELIGIBILITY[funding]}^HL70064",
            "VXC40^Eligibility captured at the immunization level^CDCPHINVS",
        ),
    ]
    # sub-ID 2: the VIS given, by barcode document type or by vaccine type + edition date
    if dose.vis_document is not None:
        code, title = dose.vis_document
        observations.append(
            (
                "CE",
                "69764-9^Document type^LN",
                "2",
                f"{e(code)}^{e(title)}^cdcgs1vis",
                "",
            )
        )
    else:
        vis_cvx = table.canonical_cvx(dose.vis_vaccine_type or cvx) or dose.vis_vaccine_type
        vis_name = table.vaccines.get(vis_cvx, dose.vaccine)
        observations.append(
            ("CE", "30956-7^vaccine type^LN", "2", f"{e(vis_cvx)}^{e(vis_name)}^CVX", "")
        )
    observations += [
        (
            "TS",
            "29768-9^Date vaccine information statement published^LN",
            "2",
            _dt(vis_edition),
            "",
        ),
        (
            "TS",
            "29769-7^Date vaccine information statement presented^LN",
            "2",
            _dt(vis_given),
            "",
        ),
    ]
    for n, (value_type, ident, sub_id, value, method) in enumerate(observations, start=1):
        obx = order.add_group("VXU_V04_OBSERVATION").obx
        obx.obx_1 = str(n)
        obx.obx_2 = value_type
        obx.obx_3 = ident
        obx.obx_4 = sub_id
        obx.obx_5 = value
        obx.obx_11 = "F"
        obx.obx_14 = given
        if method:
            obx.obx_17 = method
    return msg
