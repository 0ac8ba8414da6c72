"""Reading a PBM fee / DIR statement (docs/formats.md, "Fee / DIR statements"): one line per
fee on one claim. The service matches each line's store by NCPDP and upserts it on
(store, Rx, fill, date of service, transaction, statement date, fee type)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from reconciliation.ingest.table import (
    ISO,
    ReadResult,
    RowChecks,
    duplicates,
    key_problems,
    mask,
    read_rows,
    sorted_problems,
    upper,
    without,
)

SECTION = '"Fee / DIR statements"'
COLUMNS = {
    name: name
    for name in (
        "statement_date",
        "payer_name",
        "bin",
        "pcn",
        "group_id",
        "pharmacy_ncpdp",
        "rx_number",
        "fill_number",
        "date_of_service",
        "transaction_code",
        "authorization_number",
        "fee_type",
        "fee_amount",
    )
}
OPTIONAL = frozenset({"payer_name", "bin", "pcn", "group_id", "authorization_number"})
FEE_TYPES = frozenset({"performance", "network", "effective_rate_true_up", "transaction"})
TRANSACTION_CODES = frozenset({"B1", "B2", "B3"})
# the fee line's real-world key, in the reader's column names
KEY = [
    "pharmacy_ncpdp",
    "rx_number",
    "fill_number",
    "date_of_service",
    "transaction_code",
    "statement_date",
    "fee_type",
]


def read_fee_statement(path: Path, *, batch_rows: int = 50_000) -> ReadResult:
    """Every line of a fee statement, checked and normalized: dates as days, the amount in
    integer cents (positive: charged to the pharmacy; negative: paid to it), fee types and
    transaction codes in their canonical spelling. A fee listed twice is kept once."""
    result = read_rows(
        path,
        columns=COLUMNS,
        optional=OPTIONAL,
        section=SECTION,
        check=check_fees,
        batch_rows=batch_rows,
    )
    repeated, first = duplicates(result.rows, KEY)
    what = "fee (store, Rx, fill, date of service, transaction, statement date, fee type)"
    result.problems = sorted_problems(
        result.problems + key_problems(result.rows, KEY, repeated, first, what=what)
    )
    result.rows = without(result.rows, repeated)
    return result


def _fee_type(values: pa.Array) -> pa.Array:
    # "Effective Rate True-Up" -> "effective_rate_true_up"
    return pc.replace_substring_regex(pc.utf8_lower(values), r"[\s\-]+", "_")


def check_fees(c: RowChecks) -> dict[str, pa.Array]:
    out: dict[str, pa.Array] = {
        "statement_date": c.date("statement_date", ISO),
        "payer_name": c.text("payer_name"),
        "bin": c.matching("bin", r"^\d{6}$", "A BIN is 6 digits.", optional=True),
        "pcn": c.text("pcn"),
        "group": c.text("group_id"),
        "pharmacy_ncpdp": c.matching("pharmacy_ncpdp", r"^\d{7}$", "An NCPDP id is 7 digits."),
        "rx_number": c.whole("rx_number", digits=12, what="An Rx number"),
        "fill_number": c.whole("fill_number", digits=2, what="A fill number (0-99)"),
        "date_of_service": c.date("date_of_service", ISO),
        "transaction_code": c.one_of("transaction_code", TRANSACTION_CODES, fold=upper),
        "authorization_number": c.text("authorization_number"),
        "fee_type": c.one_of("fee_type", FEE_TYPES, fold=_fee_type),
        "amount_cents": c.cents("fee_amount"),
    }
    for name, column, limit in (
        ("payer_name", "payer_name", 120),
        ("pcn", "pcn", 20),
        ("group_id", "group", 20),
        ("authorization_number", "authorization_number", 40),
    ):
        c.longer_than(name, out[column], limit)
    later = pc.greater(out["date_of_service"], out["statement_date"])
    c.flag(
        mask(later),
        "date_of_service",
        c.text("date_of_service"),
        "The date of service is after the statement date.",
    )
    return out
