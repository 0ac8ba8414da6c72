"""Reading an immunization file (docs/formats.md, "Clinical activity"): bytes in, checked
doses and row problems out. No Django, no database: the service matches stores and patients
and writes.

A file that cannot be read as a whole (not UTF-8, binary, no header, a required column
missing) raises `FileRejected`. A row that can be read but is wrong (a bad date, an expired
lot, a CVX/MVX mismatch, ...) becomes one `RowProblem` per bad field and is left out; the
other rows are returned. The dose checks are the ones a pharmacist's entry goes through
(`clinical.hl7.vxu.validate_dose` and the code tables).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from claims.ingest.read import FileRejected, RowProblem
from clinical.hl7.vxu import (
    FUNDING_ELIGIBILITY,
    ROUTES,
    SITES,
    CvxMvxTable,
    cvx_mvx_table,
    route_code,
    validate_dose,
)
from reconciliation.x12.values import parse_cents

COLUMNS = (
    "pharmacy_ncpdp",
    "patient_id",
    "administered_on",
    "cvx",
    "mvx",
    "vaccine",
    "lot",
    "lot_expiration",
    "dose_ml",
    "site",
    "route",
    "vis_date",
    "pharmacist_npi",
    "funding_eligibility",
    "billed_amount",
)
OPTIONAL = frozenset({"vaccine", "pharmacist_npi", "billed_amount"})
# the file's field for each dose field a check names (validate_dose says "expiration")
FIELD_OF = {"expiration": "lot_expiration", "administered_on": "administered_on"}
MAX_BYTES_SNIFFED = 8192


@dataclass(frozen=True, slots=True)
class DoseRow:
    """One checked dose, normalized: CVX as the CDC table writes it, route as its NCIT
    code, codes upper-case, money in cents."""

    line: int
    pharmacy_ncpdp: str
    patient_id: str
    administered_on: date
    cvx: str
    mvx: str
    vaccine: str
    lot: str
    expiration: date
    dose_ml: Decimal
    site: str
    route: str
    vis_edition_date: date
    vis_given_on: date
    administering_npi: str
    funding_eligibility: str
    billed_cents: int

    @property
    def key(self) -> tuple[str, str, str, date, str]:
        """The dose's natural key: store, patient, vaccine, day, lot."""
        return (self.pharmacy_ncpdp, self.patient_id, self.cvx, self.administered_on, self.lot)


@dataclass
class ReadResult:
    rows: list[DoseRow]
    problems: list[RowProblem]
    read: int  # data rows in the file (blank lines aside)
    bad_lines: set[int]


def read_immunizations(path: Path, *, today: date | None = None) -> ReadResult:
    """Read and check every row of an immunization CSV. `today` refuses future doses."""
    raw = path.read_bytes()
    if b"\x00" in raw[:MAX_BYTES_SNIFFED]:
        raise FileRejected("this is not a CSV file (it holds binary data).")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise FileRejected(f"line {line} is not UTF-8 text; save the file as UTF-8 CSV.") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise FileRejected("the file has no header row.")
        names = [h.strip().lower() for h in header]
        missing = [c for c in COLUMNS if c not in names]
        if missing:
            raise FileRejected(
                "required column(s) missing: "
                + ", ".join(missing)
                + " (see docs/formats.md, Clinical activity)."
            )
        position = {c: names.index(c) for c in COLUMNS}
        table = cvx_mvx_table()
        result = ReadResult(rows=[], problems=[], read=0, bad_lines=set())
        for record in reader:
            if not any(v.strip() for v in record):
                continue  # a blank line is not a row
            line = reader.line_num
            result.read += 1
            if len(record) != len(header):
                result.problems.append(
                    RowProblem(
                        line,
                        "(row)",
                        ",".join(record)[:200],
                        f"{len(record)} fields where the header has {len(header)}.",
                    )
                )
                result.bad_lines.add(line)
                continue
            values = {c: record[i].strip() for c, i in position.items()}
            dose, problems = check_row(line, values, today=today, table=table)
            if problems:
                result.problems.extend(problems)
                result.bad_lines.add(line)
            elif dose is not None:
                result.rows.append(dose)
    except csv.Error as exc:
        raise FileRejected(f"line {reader.line_num} is not valid CSV ({exc}).") from None
    if result.read == 0:
        raise FileRejected("the file has a header but no rows.")
    return result


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


def check_row(
    line: int,
    values: dict[str, str],
    *,
    today: date | None = None,
    table: CvxMvxTable | None = None,
) -> tuple[DoseRow | None, list[RowProblem]]:
    """The dose in one row, or every problem with it (each naming its field)."""
    table = table or cvx_mvx_table()
    problems: list[RowProblem] = []

    def refuse(field: str, reason: str) -> None:
        problems.append(RowProblem(line, field, values.get(field, ""), reason))

    for field in COLUMNS:
        if field not in OPTIONAL and not values[field]:
            refuse(field, "This field is required.")
    dates: dict[str, date | None] = {}
    for field in ("administered_on", "lot_expiration", "vis_date"):
        dates[field] = _date(values[field]) if values[field] else None
        if values[field] and dates[field] is None:
            refuse(field, f"{values[field]!r} is not a date (YYYY-MM-DD).")
    dose_ml: Decimal | None = None
    if values["dose_ml"]:
        try:
            dose_ml = Decimal(values["dose_ml"])
            # the column holds up to 999.99 mL: more decimals would be rounded silently
            if (
                not dose_ml.is_finite()
                or dose_ml >= 1000
                or dose_ml != dose_ml.quantize(Decimal("0.01"))
            ):
                raise InvalidOperation
        except InvalidOperation:
            dose_ml = None
            refuse("dose_ml", f"{values['dose_ml']!r} is not a number of mL (at most 999.99).")
    # normalize at the edge, once: codes upper-case, route "IM" -> NCIT "C28161"
    mvx, site = values["mvx"].upper(), values["site"].upper()
    route, funding = route_code(values["route"]), values["funding_eligibility"].upper()
    npi = values["pharmacist_npi"]
    if site and site not in SITES:
        refuse("site", f"{site!r} is not an HL7 0163 site ({', '.join(SITES)}).")
    if route and route not in ROUTES:
        refuse("route", f"{values['route']!r} is not a known route (IM, SC, ID, NS, PO or NCIT).")
    if funding and funding not in FUNDING_ELIGIBILITY:
        refuse("funding_eligibility", f"{funding!r} is not a VFC eligibility code (V01-V07).")
    if len(values["lot"]) > 40:
        refuse("lot", "A lot number is at most 40 characters.")
    if npi and not (npi.isdigit() and npi.isascii() and len(npi) == 10):
        refuse("pharmacist_npi", "An NPI is 10 digits.")
    # money is exact: "40.00" -> 4000 cents, never through a float
    amount = values["billed_amount"].removeprefix("$")
    billed = parse_cents(amount) if amount else 0
    if billed is None or billed < 0:
        refuse("billed_amount", "Not an amount of money (like 40.00, at most two decimals).")
    given = dates["administered_on"]
    vis = dates["vis_date"]
    if vis is not None and given is not None and vis > given:
        refuse("vis_date", "The VIS edition is dated after the administration date.")
    if given is not None and values["cvx"]:
        for p in validate_dose(
            cvx=values["cvx"],
            mvx=mvx,
            administered_on=given,
            expiration=dates["lot_expiration"],
            dose_ml=dose_ml,
            today=today,
            table=table,
        ):
            refuse(FIELD_OF.get(p.field, p.field), p.reason)
    expiration = dates["lot_expiration"]
    if problems or given is None or expiration is None or vis is None or dose_ml is None:
        return None, problems  # (the None tests are for the type checker: already refused)
    code = table.canonical_cvx(values["cvx"]) or values["cvx"]
    return (
        DoseRow(
            line=line,
            pharmacy_ncpdp=values["pharmacy_ncpdp"],
            patient_id=values["patient_id"],
            administered_on=given,
            cvx=code,
            mvx=mvx,
            vaccine=(values["vaccine"] or table.vaccines[code])[:200],
            lot=values["lot"],
            expiration=expiration,
            dose_ml=dose_ml,
            site=site,
            route=route,
            vis_edition_date=vis,
            # the file has one VIS date, its edition; the VIS is handed out with the dose
            vis_given_on=given,
            administering_npi=npi,
            funding_eligibility=funding,
            billed_cents=billed or 0,
        ),
        [],
    )
