"""Reading the two cost files (docs/formats.md): the CMS NADAC file ("NADAC reference
prices", the public file's own columns) and a store's wholesaler invoices ("Acquisition
costs"). Per-unit prices stay exact decimals with five places; money becomes integer cents.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from reconciliation.ingest.table import (
    ISO,
    FileRejected,
    ReadResult,
    RowChecks,
    RowProblem,
    duplicates,
    key_problems,
    read_rows,
    sorted_problems,
    upper,
    without,
)

# --- NADAC ---------------------------------------------------------------------------------

NADAC_SECTION = '"NADAC reference prices"'
NADAC_COLUMNS = {
    "description": "NDC Description",
    "ndc": "NDC",
    "per_unit": "NADAC Per Unit",
    "effective_date": "Effective Date",
    "pricing_unit": "Pricing Unit",
    "pharmacy_type": "Pharmacy Type Indicator",
    "otc": "OTC",
    "explanation_code": "Explanation Code",
    "classification": "Classification for Rate Setting",
    "generic_per_unit": "Corresponding Generic Drug NADAC Per Unit",
    "generic_effective_date": "Corresponding Generic Drug Effective Date",
    "as_of_date": "As of Date",
}
NADAC_REQUIRED = ("ndc", "per_unit", "effective_date", "pricing_unit")
NADAC_OPTIONAL = frozenset(NADAC_COLUMNS) - frozenset(NADAC_REQUIRED)
PRICING_UNITS = frozenset({"EA", "ML", "GM"})
# CMS publishes MM/DD/YYYY; its API and some re-exports write ISO dates
NADAC_DATES = ("%m/%d/%Y", ISO)


def read_nadac(path: Path, *, batch_rows: int = 50_000) -> ReadResult:
    """Every row of a NADAC file, checked. The public file repeats an NDC's price for the
    same effective date in each weekly publication: per (NDC, effective date) the row of the
    latest "As of Date" is kept and the earlier ones are counted as `superseded`; the same
    key twice in one publication is a row problem."""
    result = read_rows(
        path,
        columns=NADAC_COLUMNS,
        optional=NADAC_OPTIONAL,
        section=NADAC_SECTION,
        check=check_nadac,
        batch_rows=batch_rows,
    )
    rows = result.rows
    key = ["ndc", "effective_date"]
    as_of = pc.fill_null(pc.cast(rows.column("as_of_date"), pa.int32()), -1).to_numpy()
    frame = pd.DataFrame(
        {
            "ndc": rows.column("ndc").to_numpy(zero_copy_only=False),
            "day": pc.cast(rows.column("effective_date"), pa.int32()).to_numpy(),
            "as_of": as_of,
        }
    )
    older = as_of < frame.groupby(["ndc", "day"])["as_of"].transform("max").to_numpy()
    current = without(rows, older)
    repeated, first = duplicates(current, key)
    what = "NDC and effective date, in the same publication,"
    result.problems = sorted_problems(
        result.problems + key_problems(current, key, repeated, first, what=what)
    )
    result.rows = without(current, repeated)
    result.superseded = int(older.sum())
    return result


def check_nadac(c: RowChecks) -> dict[str, pa.Array]:
    out: dict[str, pa.Array] = {
        "ndc": c.ndc("ndc"),
        "effective_date": c.date("effective_date", *NADAC_DATES),
        "per_unit": c.decimal("per_unit", digits=7, places=5, zero=False),
        "pricing_unit": c.one_of("pricing_unit", PRICING_UNITS, fold=upper),
        "description": pc.utf8_slice_codeunits(c.text("description"), 0, 200),
        "classification": upper(c.text("classification")),
        "pharmacy_type": upper(c.text("pharmacy_type")),
        "otc": upper(c.matching("otc", r"^[YyNn]$", "OTC is Y or N.", optional=True)),
        "explanation_code": c.text("explanation_code"),
        "generic_per_unit": c.decimal(
            "generic_per_unit", digits=7, places=5, zero=False, optional=True
        ),
        "generic_effective_date": c.date("generic_effective_date", *NADAC_DATES, optional=True),
        "as_of_date": c.date("as_of_date", *NADAC_DATES, optional=True),
    }
    for name, limit in (("classification", 10), ("pharmacy_type", 10), ("explanation_code", 40)):
        c.longer_than(name, out[name], limit)
    return out


# --- acquisition costs (wholesaler invoices) ------------------------------------------------

INVOICE_SECTION = '"Acquisition costs (wholesaler invoices)"'
INVOICE_COLUMNS = {
    name: name
    for name in (
        "invoice_number",
        "invoice_date",
        "account_ncpdp",
        "ndc",
        "description",
        "package_size",
        "packages",
        "unit_cost",
        "extended_cost",
    )
}
# the file gives the unit cost, the extended cost or both
INVOICE_OPTIONAL = frozenset({"description", "unit_cost", "extended_cost"})
INVOICE_KEY = ["invoice_number", "ndc"]  # within one store: the service adds the store
UNIT_PLACES = Decimal("0.00001")
MAX_UNIT_COST = Decimal(10) ** 9  # the column's nine whole digits


def read_acquisition(path: Path, *, batch_rows: int = 50_000) -> ReadResult:
    """Every line of a store's invoice file, checked: quantities and costs positive, the
    extended cost equal to unit cost x package size x packages (to within the unit cost's
    rounding), the missing one of the two derived. An NDC twice on an invoice is a row
    problem (the second time)."""
    result = read_rows(
        path,
        columns=INVOICE_COLUMNS,
        optional=INVOICE_OPTIONAL,
        section=INVOICE_SECTION,
        check=check_acquisition,
        batch_rows=batch_rows,
    )
    repeated, first = duplicates(result.rows, INVOICE_KEY)
    problems = key_problems(result.rows, INVOICE_KEY, repeated, first, what="invoice and NDC")
    result.problems = sorted_problems(result.problems + problems)
    result.rows = without(result.rows, repeated)
    return result


def check_acquisition(c: RowChecks) -> dict[str, pa.Array]:
    if "unit_cost" not in c.headers and "extended_cost" not in c.headers:
        raise FileRejected(
            "required column missing: unit_cost or extended_cost (the file needs one of the "
            f"two). See docs/formats.md, {INVOICE_SECTION}."
        )
    out: dict[str, pa.Array] = {
        "invoice_number": c.required("invoice_number", max_length=40),
        "invoice_date": c.date("invoice_date", ISO),
        "account_ncpdp": c.matching("account_ncpdp", r"^\d{7}$", "An NCPDP id is 7 digits."),
        "ndc": c.ndc("ndc"),
        "description": pc.utf8_slice_codeunits(c.text("description"), 0, 200),
        "package_size": c.decimal("package_size", digits=9, places=3, zero=False),
        "packages": c.decimal("packages", digits=9, places=3, zero=False),
    }
    unit = c.decimal("unit_cost", digits=9, places=5, optional=True)
    extended = c.cents("extended_cost", negative=False, optional=True)
    neither = c.empty(c.text("unit_cost")) & c.empty(c.text("extended_cost"))
    reason = "Give the unit cost, the extended cost or both."
    c.flag(neither, "unit_cost", c.text("unit_cost"), reason)
    out["unit_cost"], out["extended_cost_cents"] = _costs(c, out, unit, extended)
    return out


def _costs(
    c: RowChecks, out: dict[str, pa.Array], unit: pa.Array, extended: pa.Array
) -> tuple[pa.Array, pa.Array]:
    """Each good row's unit cost and extended cost, the missing one derived; a row whose two
    do not agree is flagged on extended_cost. Exact Decimal arithmetic, row by row (an
    invoice file holds a store's month: thousands of lines at most)."""
    sizes, packs = out["package_size"].to_pylist(), out["packages"].to_pylist()
    units_in, cents_in = unit.to_pylist(), extended.to_pylist()
    unit_out: list[Decimal] = []
    cents_out: list[int] = []
    problems: dict[int, tuple[str, str]] = {}
    for i in range(c.n):
        u, e = units_in[i], cents_in[i]
        if c.bad[i] or sizes[i] is None or packs[i] is None or (u is None and e is None):
            unit_out.append(Decimal(0))
            cents_out.append(0)
            continue
        quantity = sizes[i] * packs[i]
        if u is None:
            u = (Decimal(e) / 100 / quantity).quantize(UNIT_PLACES, ROUND_HALF_UP)
        expected = int((u * quantity * 100).quantize(Decimal(1), ROUND_HALF_UP))
        if e is None:
            e = expected
        # the unit cost is rounded to 0.00001: the extended cost may differ by that per unit
        elif abs(Decimal(e) - u * quantity * 100) > quantity * UNIT_PLACES * 50 + 1:
            problems[i] = (
                "extended_cost",
                f"Not unit_cost x package_size x packages ({u} x {sizes[i]} x {packs[i]} = "
                f"{Decimal(expected) / 100}).",
            )
        if u >= MAX_UNIT_COST:
            problems[i] = ("unit_cost", "The unit cost is out of range.")
        unit_out.append(u)
        cents_out.append(e)
    for i, (name, reason) in sorted(problems.items()):
        row = np.zeros(c.n, dtype=bool)
        row[i] = True
        c.flag(row, name, c.text(name), reason)
    return (
        pa.array(unit_out, pa.decimal128(14, 5)),
        pa.array(cents_out, pa.int64()),
    )


__all__ = [
    "INVOICE_COLUMNS",
    "NADAC_COLUMNS",
    "ReadResult",
    "RowProblem",
    "check_acquisition",
    "check_nadac",
    "read_acquisition",
    "read_nadac",
]
