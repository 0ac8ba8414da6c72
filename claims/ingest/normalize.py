"""One batch of a vendor's rows -> canonical typed columns, plus the rows that cannot load.

Set-based: every rule is a pyarrow compute kernel over the whole batch (C++, no Python per
row). Money becomes integer cents through string arithmetic (never a float); NDCs become 11
digits; dates are checked strictly (a 30 February is an error, not 2 March); codes map through
the profile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from hashlib import md5

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from claims.ingest.profiles import Profile
from claims.ingest.read import LINE, RowProblem

MONEY_FIELDS = (
    "usual_and_customary",
    "ingredient_cost_paid",
    "dispensing_fee_paid",
    "patient_pay_amount",
    "total_amount_paid",
    "acquisition_cost",
)
TEXT_FIELDS = (
    "pharmacy_ncpdp",
    "patient_id",
    "patient_last_name",
    "patient_first_name",
    "patient_sex",
    "patient_zip",
    "patient_phone",
    "prescriber_npi",
    "prescriber_name",
    "drug_name",
    "generic_name",
    "daw_code",
    "bin",
    "pcn",
    "group_id",
    "cardholder_id",
    "plan_name",
    "basis_of_reimbursement",
    "authorization_number",
)
# The most characters each text field's column holds (claims/models.py): a longer value is
# its row's problem, not a COPY that fails the whole batch.
MAX_CHARS = {
    "patient_id": 40,
    "patient_last_name": 100,
    "patient_first_name": 100,
    "patient_sex": 1,
    "patient_zip": 10,
    "patient_phone": 20,
    "prescriber_npi": 10,
    "prescriber_name": 200,
    "drug_name": 200,
    "generic_name": 200,
    "daw_code": 1,
    "bin": 6,
    "pcn": 20,
    "group_id": 20,
    "cardholder_id": 30,
    "plan_name": 200,
    "basis_of_reimbursement": 2,
    "authorization_number": 40,
}
# The normalized batch, in the staging table's column order (claims/sql/pms_stage.sql).
STAGE_COLUMNS = (
    LINE,
    "rx_number",
    "fill_number",
    "date_of_service",
    "transaction_code",
    "transaction_date",
    "patient_id",
    "patient_last_name",
    "patient_first_name",
    "patient_dob",
    "patient_sex",
    "patient_zip",
    "patient_phone",
    "med_sync_enrolled",
    "med_sync_day",
    "prescriber_npi",
    "prescriber_name",
    "ndc",
    "drug_name",
    "generic_name",
    "brand_generic",
    "quantity_dispensed",
    "days_supply",
    "daw_code",
    "bin",
    "pcn",
    "group_id",
    "cardholder_id",
    "plan_name",
    *(f + "_cents" for f in MONEY_FIELDS[:5]),
    "acquisition_cost_cents",
    "basis_of_reimbursement",
    "authorization_number",
    "row_hash",
)
KEY = ["rx_number", "fill_number", "date_of_service", "transaction_code"]
# $1,234.56  -1234.56  ($12.34)  12  .5  (at most 15 digits of dollars: cents fit an int64)
_MONEY = (
    r"^(?P<open>\()?(?P<sign>-)?\$?(?P<dollars>\d{1,3}(?:,\d{3}){1,4}|\d{0,15})"
    r"(?:\.(?P<cents>\d{1,2}))?(?P<close>\))?$"
)
_WHOLE = {
    "rx_number": r"^-?\d{1,15}$",
    "fill_number": r"^-?\d{1,9}$",
    "days_supply": r"^-?\d{1,9}$",
}
_NDC_SHAPES = {(5, 4, 2), (4, 4, 2), (5, 3, 2), (5, 4, 1)}


@dataclass
class Normalized:
    rows: pa.Table  # STAGE_COLUMNS, good rows only
    problems: list[RowProblem]


class _Batch:
    """A batch being normalized: its source columns, the rows found bad so far (the first
    reason found for a row is the one reported) and the problems."""

    def __init__(self, batch: pa.Table, profile: Profile) -> None:
        self.src = batch
        self.profile = profile
        self.n = batch.num_rows
        self.lines = batch.column(LINE)
        self.bad = np.zeros(self.n, dtype=bool)
        self.problems: list[RowProblem] = []

    def column(self, field: str) -> pa.Array:
        header = self.profile.header_for(field)
        if header is None or header not in self.src.column_names:
            return pa.array(np.full(self.n, "", dtype=object), type=pa.string())
        values = pc.utf8_trim_whitespace(self.src.column(header).combine_chunks().fill_null(""))
        # spreadsheet-safe text ="0009..." is unwrapped
        if pc.any(pc.starts_with(values, '="')).as_py():
            values = pc.replace_substring_regex(values, r'^="(.*)"$', r"\1")
        return values

    def flag(self, mask: np.ndarray, field: str, values: pa.Array, reason: str) -> None:
        mask = mask & ~self.bad
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            return
        header = self.profile.header_for(field) or field
        taken = pc.take(values, pa.array(rows)).to_pylist()
        for line, value in zip(pc.take(self.lines, rows).to_pylist(), taken, strict=True):
            self.problems.append(RowProblem(int(line), header, str(value), reason))
        self.bad |= mask


def normalize(batch: pa.Table, profile: Profile) -> Normalized:
    b = _Batch(batch, profile)
    out: dict[str, pa.Array] = {LINE: b.lines.combine_chunks()}

    for field in TEXT_FIELDS:
        out[field] = b.column(field)
    if profile.header_for("patient_full_name"):
        names = pc.extract_regex(b.column("patient_full_name"), r"^(?P<last>[^,]*),?(?P<first>.*)$")
        for part in ("last", "first"):
            name = pc.utf8_trim_whitespace(_field(names, part))
            out[f"patient_{part}_name"] = pc.utf8_title(name)

    for field, most in MAX_CHARS.items():
        long = _mask(pc.greater(pc.utf8_length(out[field]), most))
        b.flag(long, field, out[field], f"longer than the {most} characters it can hold")

    for field, pattern in _WHOLE.items():
        raw = b.column(field)
        ok = _mask(pc.match_substring_regex(raw, pattern))
        b.flag(~ok, field, raw, "must be a whole number")
        out[field] = pc.cast(pc.if_else(pa.array(ok), raw, "0"), pa.int64())
    days = out["days_supply"]
    b.flag(_mask(pc.less_equal(days, 0)), "days_supply", days, "days supply must be more than 0")

    for field, fmt in (
        ("date_of_service", profile.date_format),
        ("transaction_date", profile.date_format),
        ("patient_dob", profile.dob_format),
    ):
        if field == "transaction_date" and not profile.header_for(field):
            out[field] = out["date_of_service"]
            continue
        raw = b.column(field)
        parsed = _dates(raw, fmt)
        b.flag(~_mask(parsed.is_valid()), field, raw, f"not a date in the form {_human(fmt)}")
        out[field] = parsed

    raw_code = b.column("transaction_code")
    code = _lookup(raw_code, profile.transaction_codes)
    b.flag(
        ~_mask(code.is_valid()),
        "transaction_code",
        raw_code,
        f"unknown transaction type (expected one of {', '.join(profile.transaction_codes)})",
    )
    out["transaction_code"] = code.fill_null("")

    raw_ndc = b.column("ndc")
    ndc = _ndc11(raw_ndc)
    b.flag(
        ~_mask(ndc.is_valid()),
        "ndc",
        raw_ndc,
        "NDC must be 11 digits, or 10 digits with hyphens (4-4-2, 5-3-2 or 5-4-1)",
    )
    out["ndc"] = ndc.fill_null("")

    qty = b.column("quantity_dispensed")
    qty_ok = _mask(pc.match_substring_regex(qty, r"^-?\d{1,9}(\.\d{1,3})?$"))
    b.flag(~qty_ok, "quantity_dispensed", qty, "quantity must be a number")
    zero = qty_ok & _mask(pc.match_substring_regex(qty, r"^-?0+(\.0+)?$"))
    b.flag(zero, "quantity_dispensed", qty, "quantity dispensed is 0")
    out["quantity_dispensed"] = pc.if_else(pa.array(qty_ok), qty, "0")

    cents: dict[str, np.ndarray] = {}
    for field in MONEY_FIELDS:
        raw = b.column(field)
        if field in ("usual_and_customary", "acquisition_cost"):
            raw = pc.if_else(pc.equal(raw, ""), "0", raw)
        values, ok = money_to_cents(raw)
        b.flag(~ok, field, raw, "not an amount of money")
        cents[field] = values
        out[field + "_cents"] = pa.array(values)

    paid = cents["total_amount_paid"]
    expected = (
        cents["ingredient_cost_paid"] + cents["dispensing_fee_paid"] - cents["patient_pay_amount"]
    )
    # NCPDP pricing: ingredient + dispensing fee - patient pay = plan paid (a zero plan paid
    # is a claim the patient paid in full: cash, or a copay above the price)
    mismatch = (paid != expected) & (paid != 0)
    if mismatch.any():
        b.flag(
            mismatch,
            "total_amount_paid",
            pa.array(
                [cents_text(int(c)) if m else "" for c, m in zip(paid, mismatch, strict=True)]
            ),
            "ingredient cost + dispensing fee - patient pay does not equal total paid",
        )

    out["med_sync_enrolled"] = pc.is_in(
        b.column("med_sync_enrolled"), value_set=pa.array(profile.yes_values, pa.string())
    )
    sync_day = b.column("med_sync_day")
    valid_day = pc.match_substring_regex(sync_day, r"^\d{1,2}$")
    out["med_sync_day"] = pc.cast(
        pc.if_else(valid_day, sync_day, pa.scalar(None, pa.string())), pa.int64()
    )  # null: not synced
    brand = b.column("brand_generic")
    if profile.brand_generic_values:
        brand = pc.coalesce(_lookup(brand, profile.brand_generic_values), brand)
    out["brand_generic"] = brand

    patient_id = out["patient_id"]
    b.flag(_mask(pc.equal(patient_id, "")), "patient_id", patient_id, "patient id is empty")

    _flag_duplicate_keys(b, out)

    good = pa.array(np.flatnonzero(~b.bad))
    columns = {name: pc.take(out[name], good) for name in STAGE_COLUMNS if name != "row_hash"}
    columns["row_hash"] = row_hashes(columns)
    rows = pa.table({name: columns[name] for name in STAGE_COLUMNS})
    b.problems.sort(key=lambda p: p.line)
    return Normalized(rows=rows, problems=b.problems)


def _flag_duplicate_keys(b: _Batch, out: dict[str, pa.Array]) -> None:
    keys = pd.DataFrame({k: out[k].to_numpy(zero_copy_only=False) for k in KEY})
    repeated = keys.duplicated(keep="first").to_numpy()
    dupes = repeated & ~b.bad
    if not dupes.any():
        return
    lines = b.lines.to_numpy()
    first_line = {
        tuple(k): int(line)
        for k, line in zip(keys[~repeated].itertuples(index=False), lines[~repeated], strict=True)
    }
    described = [
        f"Rx {k[0]} fill {k[1]} {k[2]} {k[3]}" if d else ""
        for k, d in zip(keys.itertuples(index=False), dupes, strict=True)
    ]
    for row in np.flatnonzero(dupes):
        key = tuple(keys.iloc[row])
        b.problems.append(
            RowProblem(
                int(lines[row]), "(key)", described[row], f"duplicate of line {first_line[key]}"
            )
        )
    b.bad |= dupes


def row_hashes(columns: dict[str, pa.Array]) -> pa.Array:
    """md5 of every loaded value of each row (the line number excluded): a stored fill with
    the same key and hash is unchanged, so a re-import writes nothing. The values are joined
    in C++; only the digest is a Python call per row."""
    texts = [
        _text(values).fill_null("\\N")
        for name, values in columns.items()
        if name not in (LINE, "row_hash")
    ]
    joined = pc.binary_join_element_wise(*texts, "\x1f").to_pylist()
    return pa.array([md5(t.encode(), usedforsecurity=False).hexdigest() for t in joined])


def _text(values: pa.Array) -> pa.Array:
    if pa.types.is_date32(values.type):  # as day numbers: ten times faster than ISO text
        values = pc.cast(values, pa.int32())
    return pc.cast(values, pa.string())


def cents_text(cents: int) -> str:
    """Cents as dollars text without a float: -1234 -> '-12.34'."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def money_to_cents(raw: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Exact dollars-to-cents: '$1,234.5' -> 123450, '(12.34)' and '-12.34' -> -1234.
    Returns the cents (0 where the text is not money) and a mask of the valid ones."""
    # most exports write plain decimals: parsed as decimal(18, 2) by Arrow, exactly
    plain = _mask(pc.match_substring_regex(raw, r"^-?\d{0,15}(\.\d{1,2})?$"))
    plain &= _mask(pc.match_substring_regex(raw, r"\d"))
    text = pc.if_else(pa.array(plain), raw, "0")
    hundred = pa.scalar(100, pa.decimal128(3, 0))
    value = pc.cast(pc.multiply(pc.cast(text, pa.decimal128(18, 2)), hundred), pa.int64())
    cents, ok = value.to_numpy(), plain
    rest = np.flatnonzero(~plain)
    if rest.size:  # $, thousands separators, (parentheses)
        fancy, fancy_ok = _formatted_money(pc.take(raw, pa.array(rest)))
        cents = cents.copy()
        cents[rest] = fancy
        ok = ok.copy()
        ok[rest] = fancy_ok
    return np.where(ok, cents, 0).astype(np.int64), ok


def _formatted_money(raw: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    parts = pc.extract_regex(raw, _MONEY)
    matched = _mask(parts.is_valid())
    opened, closed = _field(parts, "open"), _field(parts, "close")
    dollars = pc.replace_substring(_field(parts, "dollars"), ",", "")
    cents_part = _field(parts, "cents")
    ok = matched & (_mask(pc.equal(opened, "")) == _mask(pc.equal(closed, "")))
    ok &= _mask(pc.not_equal(dollars, "")) | _mask(pc.not_equal(cents_part, ""))
    whole = pc.cast(pc.if_else(pc.equal(dollars, ""), "0", dollars), pa.int64()).to_numpy()
    cents_part = pc.utf8_rpad(pc.if_else(pc.equal(cents_part, ""), "0", cents_part), 2, "0")
    value = whole * 100 + pc.cast(cents_part, pa.int64()).to_numpy()
    negative = _mask(pc.equal(_field(parts, "sign"), "-")) | _mask(pc.equal(opened, "("))
    return np.where(negative, -value, value), ok


def _mask(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean array as a numpy mask, null counting as False."""
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def _field(parts: pa.Array, name: str) -> pa.Array:
    """One group of an extract_regex result; "" where the pattern did not match."""
    return pc.struct_field(parts, name).fill_null("")


def _lookup(values: pa.Array, mapping: dict[str, str]) -> pa.Array:
    """Each value mapped through `mapping`; null where it has no entry."""
    index = pc.index_in(values, value_set=pa.array(list(mapping), pa.string()))
    return pc.take(pa.array(list(mapping.values()), pa.string()), index)


def _ndc11(raw: pa.Array) -> pa.Array:
    """NDC to the 11-digit 5-4-2 form; null where it cannot be one. Hyphenated 10-digit codes
    are padded in the short segment (4-4-2 -> 0xxxx, 5-3-2 -> xxxxx-0xxx, 5-4-1 -> xx-0x);
    an unhyphenated 10-digit code is ambiguous and refused."""
    text = pc.replace_substring(raw, " ", "")
    plain = pc.match_substring_regex(text, r"^\d{11}$")
    parts = pc.extract_regex(text, r"^(?P<a>\d{4,5})-(?P<b>\d{3,4})-(?P<c>\d{1,2})$")
    a, b_, c = (_field(parts, x) for x in "abc")
    shape = pc.binary_join_element_wise(
        *(pc.cast(pc.utf8_length(p), pa.string()) for p in (a, b_, c)), ""
    )
    valid = pc.is_in(shape, value_set=pa.array(["".join(map(str, s)) for s in _NDC_SHAPES]))
    padded = pc.binary_join_element_wise(
        pc.utf8_lpad(a, 5, "0"), pc.utf8_lpad(b_, 4, "0"), pc.utf8_lpad(c, 2, "0"), ""
    )
    none = pa.scalar(None, pa.string())
    return pc.if_else(plain, text, pc.if_else(valid, padded, none))


def _dates(raw: pa.Array, fmt: str) -> pa.Array:
    """Strict dates: the text must have the format's shape and name a real day (Arrow's
    strptime alone would read 2/30 as 3/2). Null where it does not."""
    pattern = _date_pattern(fmt)
    parts = pc.extract_regex(raw, pattern)
    year, month, day = (_field(parts, k) for k in ("Y", "m", "d"))
    iso = pc.binary_join_element_wise(
        year, pc.utf8_lpad(month, 2, "0"), pc.utf8_lpad(day, 2, "0"), "-"
    )
    parsed = pc.strptime(iso, format="%Y-%m-%d", unit="s", error_is_null=True)
    same = _mask(parsed.is_valid())
    for part, text in ((pc.year, year), (pc.month, month), (pc.day, day)):
        number = pc.cast(pc.if_else(pc.equal(text, ""), "0", text), pa.int64())
        same &= _mask(pc.equal(part(parsed), number))
    return pc.if_else(pa.array(same), pc.cast(parsed, pa.date32()), pa.scalar(None, pa.date32()))


@cache
def _date_pattern(fmt: str) -> str:
    """A strptime format with %Y, %m and %d as a regex with named groups: a field next to
    another one (%Y%m%d) is fixed-width, one between separators may drop its leading zero."""
    tokens = re.findall(r"%.|[^%]+", fmt)
    directives = [t for t in tokens if t.startswith("%")]
    if sorted(directives) != ["%Y", "%d", "%m"]:
        raise ValueError(f"date format {fmt!r} needs exactly %Y, %m and %d")
    pattern = ""
    for i, token in enumerate(tokens):
        if not token.startswith("%"):
            pattern += re.escape(token)
            continue
        name = token[1]
        if name == "Y":
            pattern += r"(?P<Y>\d{4})"
            continue
        adjacent = any(0 <= j < len(tokens) and tokens[j].startswith("%") for j in (i - 1, i + 1))
        pattern += rf"(?P<{name}>\d{{2}})" if adjacent else rf"(?P<{name}>\d{{1,2}})"
    return f"^{pattern}$"


def _human(fmt: str) -> str:
    return fmt.replace("%Y", "YYYY").replace("%m", "MM").replace("%d", "DD")
