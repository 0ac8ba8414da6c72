"""One batch of a vendor's rows -> canonical typed columns, plus the rows that cannot load.

Set-based: every rule is a vectorized pandas operation over the batch. Money becomes integer
cents through string arithmetic (never a float); NDCs become 11 digits; codes map through the
profile.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

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
KEY = ["rx_number", "fill_number", "date_of_service", "transaction_code"]
# Arrow-backed strings: the .str operations below run in pyarrow's C++ kernels, not per row
TEXT = "string[pyarrow]"
# $1,234.56  -1234.56  ($12.34)  12  .5
_MONEY = (
    r"^(?P<open>\()?(?P<sign>-)?\$?(?P<dollars>\d{1,3}(?:,\d{3})+|\d*)"
    r"(?:\.(?P<cents>\d{1,2}))?(?P<close>\))?$"
)


@dataclass
class Normalized:
    rows: pd.DataFrame  # canonical columns, good rows only, with LINE
    problems: list[RowProblem]


def normalize(batch: pd.DataFrame, profile: Profile) -> Normalized:
    src = batch
    out = pd.DataFrame({LINE: src[LINE].to_numpy()})
    bad = pd.Series(False, index=src.index)
    problems: list[RowProblem] = []

    def column(field: str) -> pd.Series:
        header = profile.header_for(field)
        if header is None or header not in src.columns:
            return pd.Series("", index=src.index, dtype=TEXT)
        # spreadsheet-safe text ="0009..." is unwrapped; surrounding blanks dropped
        return (
            src[header]
            .astype(TEXT)
            .fillna("")
            .str.strip()
            .str.replace(r'^="(.*)"$', r"\1", regex=True)
        )

    def flag(mask: pd.Series, field: str, values: pd.Series, reason: str) -> None:
        nonlocal bad
        mask = mask & ~bad
        if mask.any():
            header = profile.header_for(field) or field
            for line, value in zip(src.loc[mask, LINE], values[mask], strict=True):
                problems.append(RowProblem(int(line), header, str(value), reason))
            bad = bad | mask

    for field in TEXT_FIELDS:
        out[field] = column(field).to_numpy()
    full = column("patient_full_name")
    if profile.header_for("patient_full_name"):
        parts = full.str.split(",", n=1, expand=True).reindex(columns=[0, 1]).fillna("")
        out["patient_last_name"] = parts[0].str.strip().str.title().to_numpy()
        out["patient_first_name"] = parts[1].str.strip().str.title().to_numpy()

    for field in ("rx_number", "fill_number", "days_supply"):
        raw = column(field)
        ok = raw.str.fullmatch(r"-?\d+").fillna(False).astype(bool)
        flag(~ok, field, raw, "must be a whole number")
        out[field] = pd.to_numeric(raw.where(ok, "0")).astype("int64").to_numpy()
    days = pd.Series(out["days_supply"], index=src.index)
    flag(days <= 0, "days_supply", days.astype(str), "days supply must be more than 0")

    for field, fmt in (
        ("date_of_service", profile.date_format),
        ("transaction_date", profile.date_format),
        ("patient_dob", profile.dob_format),
    ):
        raw = column(field)
        if field == "transaction_date" and not profile.header_for(field):
            out[field] = out["date_of_service"]
            continue
        parsed = pd.to_datetime(raw, format=fmt, errors="coerce")
        flag(parsed.isna(), field, raw, f"not a date in the form {_human(fmt)}")
        out[field] = parsed.dt.date.to_numpy()

    code = column("transaction_code").map(lambda v: profile.transaction_codes.get(v, ""))
    flag(
        code == "",
        "transaction_code",
        column("transaction_code"),
        f"unknown transaction type (expected one of {', '.join(profile.transaction_codes)})",
    )
    out["transaction_code"] = code.to_numpy()

    ndc, ndc_ok = _ndc11(column("ndc"))
    flag(
        ~ndc_ok,
        "ndc",
        column("ndc"),
        "NDC must be 11 digits, or 10 digits with hyphens (4-4-2, 5-3-2 or 5-4-1)",
    )
    out["ndc"] = ndc.to_numpy()

    qty = column("quantity_dispensed")
    qty_ok = qty.str.fullmatch(r"-?\d+(\.\d+)?").fillna(False).astype(bool)
    flag(~qty_ok, "quantity_dispensed", qty, "quantity must be a number")
    zero = qty_ok & qty.str.fullmatch(r"-?0+(\.0+)?").fillna(False).astype(bool)
    flag(zero, "quantity_dispensed", qty, "quantity dispensed is 0")
    out["quantity_dispensed"] = qty.where(qty_ok, "0").to_numpy()

    for field in MONEY_FIELDS:
        raw = column(field)
        if field in ("usual_and_customary", "acquisition_cost"):
            raw = raw.mask(raw == "", "0")
        cents, ok = money_to_cents(raw)
        flag(~ok, field, raw, "not an amount of money")
        out[field + "_cents"] = cents.to_numpy()

    paid = pd.Series(out["total_amount_paid_cents"], index=src.index)
    expected = (
        pd.Series(out["ingredient_cost_paid_cents"], index=src.index)
        + pd.Series(out["dispensing_fee_paid_cents"], index=src.index)
        - pd.Series(out["patient_pay_amount_cents"], index=src.index)
    )
    # NCPDP pricing: ingredient + dispensing fee - patient pay = plan paid (a zero plan paid
    # is a claim the patient paid in full: cash, or a copay above the price)
    flag(
        (paid != expected) & (paid != 0),
        "total_amount_paid",
        paid.map(cents_text),
        "ingredient cost + dispensing fee - patient pay does not equal total paid",
    )

    yes = set(profile.yes_values)
    out["med_sync_enrolled"] = column("med_sync_enrolled").isin(yes).to_numpy()
    sync_day = column("med_sync_day")
    valid_day = sync_day.str.fullmatch(r"\d{1,2}").fillna(False).astype(bool)
    out["med_sync_day"] = sync_day.where(valid_day, None).to_numpy()  # None: not synced
    brand = column("brand_generic")
    if profile.brand_generic_values:
        brand = brand.map(lambda v: profile.brand_generic_values.get(v, v))
    out["brand_generic"] = brand.to_numpy()

    flag(
        pd.Series(out["patient_id"], index=src.index) == "",
        "patient_id",
        pd.Series(out["patient_id"], index=src.index),
        "patient id is empty",
    )

    keys = out[KEY].copy()
    keys.index = src.index
    dupes = keys.duplicated(keep="first") & ~bad
    if dupes.any():
        first_line = {
            tuple(k): int(line)
            for k, line in zip(
                keys[~keys.duplicated(keep="first")].itertuples(index=False),
                src.loc[~keys.duplicated(keep="first"), LINE],
                strict=True,
            )
        }
        values = pd.Series(
            [f"Rx {k[0]} fill {k[1]} {k[2]} {k[3]}" for k in keys.itertuples(index=False)],
            index=src.index,
        )
        reasons = [
            f"duplicate of line {first_line[tuple(k)]}" for k in keys[dupes].itertuples(index=False)
        ]
        for (line, value), reason in zip(
            zip(src.loc[dupes, LINE], values[dupes], strict=True), reasons, strict=True
        ):
            problems.append(RowProblem(int(line), "(key)", value, reason))
        bad = bad | dupes

    good = out[~bad.to_numpy()].reset_index(drop=True)
    problems.sort(key=lambda p: p.line)
    return Normalized(rows=good, problems=problems)


def cents_text(cents: int) -> str:
    """Cents as dollars text without a float: -1234 -> '-12.34'."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def money_to_cents(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Exact dollars-to-cents: '$1,234.5' -> 123450, '(12.34)' and '-12.34' -> -1234."""
    parts = raw.str.extract(_MONEY)
    ok = parts["dollars"].notna() & (parts["open"].isna() == parts["close"].isna())
    ok &= (parts["dollars"].fillna("") != "") | parts["cents"].notna()
    dollars = parts["dollars"].fillna("").str.replace(",", "", regex=False)
    dollars = dollars.mask(dollars == "", "0")
    cents_text = parts["cents"].fillna("0").str.ljust(2, "0")
    value = pd.to_numeric(dollars.where(ok, "0")).astype("int64") * 100 + pd.to_numeric(
        cents_text.where(ok, "0")
    ).astype("int64")
    negative = parts["sign"].notna() | parts["open"].notna()
    value = value.where(~negative, -value)
    return value.astype("int64"), ok.fillna(False).astype(bool)


def _ndc11(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """NDC to the 11-digit 5-4-2 form. Hyphenated 10-digit codes are padded in the short
    segment (4-4-2 -> 0xxxx, 5-3-2 -> xxxxx-0xxx, 5-4-1 -> xx-0x); an unhyphenated
    10-digit code is ambiguous and refused."""
    text = raw.str.replace(" ", "", regex=False)
    out = pd.Series("", index=raw.index, dtype=TEXT)
    plain = text.str.fullmatch(r"\d{11}").fillna(False).astype(bool)
    out[plain] = text[plain]
    parts = text.str.extract(r"^(\d{4,5})-(\d{3,4})-(\d{1,2})$")
    hyph = parts[0].notna()
    lengths = (
        parts[0].str.len().astype("Int64").astype(str)
        + parts[1].str.len().astype("Int64").astype(str)
        + parts[2].str.len().astype("Int64").astype(str)
    )
    padded = parts[0].str.zfill(5) + parts[1].str.zfill(4) + parts[2].str.zfill(2)
    valid_shape = lengths.isin(["542", "442", "532", "541"])
    use = hyph & valid_shape
    out[use] = padded[use]
    ok = plain | use
    return out.where(ok, ""), ok.fillna(False).astype(bool)


def _human(fmt: str) -> str:
    return fmt.replace("%Y", "YYYY").replace("%m", "MM").replace("%d", "DD")
