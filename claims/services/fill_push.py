"""PMS push: fills sent one by one or in bulk by a pharmacy system (the REST API, HL7 RDS^O13),
loaded through the file import's own path.

The items become one table of strings under the canonical headers of docs/formats.md, go
through the same `normalize()` (so a pushed fill and the same row in a file store the same
values and the same row hash) and the same staging COPY + upsert SQL. Each call is one job of
kind "pms" (params `push`), so everything that follows a PMS import follows a push too:
incremental reconciliation finds the claims by their source job, and the after-import
signals queue a reconciliation and a worklist build when claims changed.

Bad items are quarantined on the job like bad file rows, with the item's index as the line.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.contrib.auth.models import User
from django.core.cache import cache as shared_cache
from django.db import connection, transaction
from django.utils import timezone

from claims.ingest.normalize import KEY, MONEY_FIELDS, cents_text, normalize
from claims.ingest.profiles import REQUIRED, Profile, all_profiles
from claims.ingest.read import LINE, RowProblem
from claims.models import Fill
from claims.services.pms_import import (
    ANALYZE_MIN_ROWS,
    batch_load,
    stage_csv,
    store_statistics_refresh,
)
from rxrevops.access import Principal
from rxrevops.models import Job, Location
from rxrevops.services.imports import quarantine_record
from rxrevops.services.jobs import job_create, job_succeed

JOB_KIND = "pms"  # a push is a PMS import that arrived by request (see the module docstring)
# canonical columns the canonical profile does not load: accepted and not stored, like the
# file import (claim_status only names a reversal that omits its transaction code)
EXTRA_COLUMNS = ("pharmacy_npi", "claim_status")


ITEM_STATUSES = ("created", "updated", "unchanged", "rejected")


@dataclass(slots=True)  # not frozen: thousands per request, built 3x quicker without it
class ItemResult:
    index: int  # position in the request
    status: str  # "created" | "updated" | "unchanged" | "rejected"
    fill_id: int | None
    errors: list[dict[str, str]]  # [{"field": ..., "value": ..., "reason": ...}] when rejected


@dataclass(frozen=True)
class PushResult:
    job: Job  # the rxrevops Job row recording this push
    items: list[ItemResult]
    counts: dict[str, int]  # read, created, updated, unchanged, rejected


@cache
def canonical_profile() -> Profile:
    return all_profiles()["canonical"]


@cache
def canonical_columns() -> tuple[str, ...]:
    """Every column name an item may carry (docs/formats.md, PMS export, canonical layout)."""
    return (*canonical_profile().columns, *EXTRA_COLUMNS)


def push_fills(
    *,
    location: Location,
    rows: Sequence[Mapping[str, object]],
    source: str,
    user: Principal | None = None,
) -> PushResult:
    """Load pushed fills into `location`'s claims: one job, one transaction, an answer per
    item. `rows` are keyed by the canonical column names; values are strings or numbers as
    JSON gives them (money in dollars, like the canonical CSV). `pharmacy_ncpdp`, when
    given, must be the location's. `transaction_date` defaults to the
    date of service; a missing `transaction_code` with `claim_status` "reversed" is a B2.

    The caller has decided that the principal may write to `location`; `user` is recorded
    as the job's creator when it is a person."""
    created_by = user if isinstance(user, User) else None
    with transaction.atomic():
        job = job_create(
            organization=location.organization,
            location=location,
            kind=JOB_KIND,
            label=f"PMS push ({source}): {len(rows)} fill{'' if len(rows) == 1 else 's'}",
            params={"push": True, "source": source},
            created_by=created_by,
            enqueue=False,
        )
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.RUNNING, attempts=1, started_at=timezone.now()
        )
        job.attempts = 1
        table, problems = items_table(rows, location=location)
        result = normalize(table, canonical_profile())
        problems += result.problems
        loaded = batch_load(
            result.rows.num_rows,
            stage_csv(result.rows) if result.rows.num_rows else b"",
            location_id=location.pk,
            job_id=job.pk,
            with_ids=True,
        )
        ids = dict(loaded.written)
        # the rest were found as stored (or dropped by the upsert's joins: see below)
        rest = pa.array(np.isin(result.rows.column(LINE).to_numpy(), list(ids), invert=True))
        ids.update(_fill_ids(result.rows.filter(rest), location_id=location.pk))
        problems = [_as_item_problem(p) for p in problems]
        for line in result.rows.column(LINE).to_pylist():
            if line not in ids:  # the upsert's joins dropped it: never silently
                problems.append(RowProblem(line, "(item)", "", "not loaded (internal error)"))
        quarantine_record(job, sorted(problems, key=lambda p: p.line))
        items = _items(len(rows), problems, ids, loaded.created_ids, loaded.written)
        counts = {"read": len(rows), "created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
        for item in items:
            counts[item.status] += 1
        job.progress_total = len(rows)
        job_succeed(
            job=job,
            counts={
                # the file import's names: the imports pages and the after-import signals
                # read these
                "read": counts["read"],
                "inserted": counts["created"],
                "updated": counts["updated"],
                "unchanged": counts["unchanged"],
                "quarantined": counts["rejected"],
                "profile": "canonical",
            },
        )
        Job.objects.filter(pk=job.pk).update(progress_total=len(rows))
    if counts["created"]:
        statistics_keep_up(location_id=location.pk, inserted=counts["created"])
    return PushResult(job=job, items=items, counts=counts)


def _fills_since_refresh_key(location_id: int) -> str:
    return f"claims:fills-since-statistics:{location_id}"


def statistics_keep_up(*, location_id: int, inserted: int) -> bool:
    """Refresh the planner's statistics for a store once the fills pushed into it since the
    last refresh outnumber what the planner believes it holds: it may have doubled (the
    file import's rule, kept per job there; pushes are many small calls, possibly to
    different server processes, so the count since the last refresh is kept in the shared
    cache, per store). With a store's size underestimated, the upsert hashes all of its
    fills for every batch (measured: 215 ms instead of 7 ms to compare 5,000 pushed fills
    with a 240,000-fill store). Outside the push's transaction: ANALYZE's lock would
    serialize pushes. A lost count only delays a refresh. Returns whether it refreshed."""
    key = _fills_since_refresh_key(location_id)
    try:
        since = shared_cache.incr(key, inserted)
    except ValueError:  # the first push since the count was lost (or ever)
        shared_cache.set(key, inserted, timeout=None)
        since = inserted
    if since < ANALYZE_MIN_ROWS or since <= planned_fills(location_id):
        return False
    store_statistics_refresh(store_sizes_only=True)
    shared_cache.set(key, 0, timeout=None)
    return True


def planned_fills(location_id: int) -> int:
    """How many fills the planner believes the store holds (what the upsert's plan is built
    on)."""
    with connection.cursor() as cur:
        cur.execute(
            "EXPLAIN (FORMAT JSON) SELECT 1 FROM claims_fill WHERE location_id = %s", [location_id]
        )
        plan = cur.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def items_table(
    rows: Sequence[Mapping[str, object]], *, location: Location
) -> tuple[pa.Table, list[RowProblem]]:
    """The items as the table a canonical CSV would give (string columns under the canonical
    headers, plus LINE = the item's index), without the items refused before normalizing:
    unknown fields, values that are not text or numbers, a missing required field, another
    store's NCPDP ID. Set-based: one pass per column, not per item."""
    n = len(rows)
    bad = np.zeros(n, dtype=bool)
    problems: list[RowProblem] = []

    def refuse(mask: np.ndarray, field: str, values: Sequence[str], reason: str) -> None:
        nonlocal bad
        for i in np.flatnonzero(mask & ~bad):
            problems.append(RowProblem(int(i), field, str(values[int(i)]), reason))
        bad |= mask

    known = set(canonical_columns())
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            refuse(_at(n, i), "(item)", [str(row)[:200]] * n, "must be an object of fill fields")
        elif not known.issuperset(row):
            unknown = sorted(str(k) for k in row if k not in known)
            refuse(
                _at(n, i),
                unknown[0],
                [str(row[unknown[0]])[:200]] * n,
                "unknown field (the fields are the canonical PMS columns of docs/formats.md)",
            )
    columns = _text_columns(rows) if not bad.any() else None
    if columns is None:
        columns = {}
        good_rows = [row if isinstance(row, Mapping) else {} for row in rows]
        for name in canonical_columns():
            values, invalid = _texts([row.get(name) for row in good_rows])
            if invalid.any():
                refuse(
                    invalid,
                    name,
                    [printable(v) for v in values.to_pylist()],
                    "must be a string or a number of at most 30 digits "
                    "(text without NUL characters)",
                )
            columns[name] = values
    # a reversal may name itself by its status only
    reversal = _mask(pc.equal(columns["claim_status"], "reversed")) & _mask(
        pc.equal(columns["transaction_code"], "")
    )
    if reversal.any():
        columns["transaction_code"] = pc.if_else(
            pa.array(reversal), "B2", columns["transaction_code"]
        )
    # the day a row was posted is its date of service unless it says otherwise
    columns["transaction_date"] = pc.if_else(
        pc.equal(columns["transaction_date"], ""),
        columns["date_of_service"],
        columns["transaction_date"],
    )
    for name in REQUIRED:
        empty = _mask(pc.equal(columns[name], ""))
        if empty.any():
            refuse(empty, name, [""] * n, "required")
    ncpdp = columns["pharmacy_ncpdp"]
    other = _mask(pc.and_(pc.not_equal(ncpdp, ""), pc.not_equal(ncpdp, location.ncpdp_id)))
    if other.any():
        refuse(
            other,
            "pharmacy_ncpdp",
            ncpdp.to_pylist(),
            f"is not this location's NCPDP ID ({location.ncpdp_id})",
        )
    columns[LINE] = pa.array(np.arange(n, dtype=np.int64))
    table = pa.table(columns)
    if bad.any():
        table = table.filter(pa.array(~bad))
    return table, problems


@cache
def _text_struct() -> pa.StructType:
    return pa.struct([(name, pa.string()) for name in canonical_columns()])


def _text_columns(rows: Sequence[Mapping[str, object]]) -> dict[str, pa.Array] | None:
    """Every canonical column of items whose values are all text (or absent or null) and free
    of NUL characters, converted by Arrow in one pass over the objects; None when any item
    holds anything else (a number, true/false, a NUL, an unpaired surrogate), which the
    column-by-column path then writes out or refuses value by value. The common case of a
    PMS sending strings, as its CSV export would: about 3x quicker than reading each column
    from every object in Python."""
    try:
        items = pa.array(rows, type=_text_struct())
    except (pa.ArrowTypeError, pa.ArrowInvalid, UnicodeEncodeError, TypeError):
        return None
    columns = {name: items.field(name).fill_null("") for name in canonical_columns()}
    for values in columns.values():
        if pc.any(pc.match_substring(values, "\x00")).as_py():
            return None
    return columns


# the largest power of ten a pushed number may carry (a quantity, money, a day count: far
# below it); beyond it the number is refused rather than written out digit by digit
_MAX_DIGITS = 30


def _texts(values: list[object]) -> tuple[pa.Array, np.ndarray]:
    """JSON values as the text a CSV cell would hold: None is empty, numbers are written in
    full (a Decimal as it was typed, a float by its shortest repr: never through rounding),
    True/False are Y/N (the med sync flag). Also the mask of values that are none of these,
    or text Postgres cannot store (a NUL character, an unpaired surrogate)."""
    try:
        texts = pa.array(values, pa.string()).fill_null("")
        return texts, _mask(pc.match_substring(texts, "\x00"))
    except (pa.ArrowTypeError, pa.ArrowInvalid, UnicodeEncodeError):
        pass
    out: list[str] = []
    invalid = np.zeros(len(values), dtype=bool)
    for i, value in enumerate(values):
        if value is None:
            out.append("")
        elif isinstance(value, str):
            out.append(printable(value))
            invalid[i] = out[-1] != value
        elif isinstance(value, bool):
            out.append("Y" if value else "N")
        elif isinstance(value, int):
            out.append(str(value))
        elif isinstance(value, Decimal):
            # written out in full only within reach of any column: 1e999999999 in full is a
            # gigabyte of digits (the item is refused instead, naming the field)
            sane = value.is_finite() and abs(value.adjusted()) <= _MAX_DIGITS
            out.append(format(value, "f") if sane else str(value))
            invalid[i] = not sane
        elif isinstance(value, float):
            out.append(format(Decimal(repr(value)), "f"))
        else:
            out.append(printable(str(value))[:200])
            invalid[i] = True
    return pa.array(out, pa.string()), invalid


def printable(text: str) -> str:
    """`text` as Postgres can store it: NUL and unpaired surrogates escaped."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _at(n: int, i: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[i] = True
    return mask


def _mask(values: Any) -> np.ndarray:
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def _as_item_problem(problem: RowProblem) -> RowProblem:
    # normalize() names the first of two equal rows by its line; here lines are item indexes
    reason = problem.reason.replace("duplicate of line ", "duplicate of item ")
    return RowProblem(problem.line, printable(problem.column), printable(problem.value), reason)


def _fill_ids(rows: pa.Table, *, location_id: int) -> dict[int, int]:
    """Item index -> the id of its stored fill, for the loaded items the upsert did not
    write (found unchanged): one lookup through the real-world key index. The keys travel as one
    text (written by Arrow, split by Postgres): binding five arrays of 5,000 Python values
    costs more than the lookup."""
    if rows.num_rows == 0:
        return {}
    keys = pc.binary_join_element_wise(
        *(pc.cast(rows.column(name), pa.string()) for name in (LINE, *KEY)), ","
    )
    with connection.cursor() as cur:
        cur.execute(
            # one probe of the real-world key index per item (a join would hash every fill
            # of the store when its statistics lag behind a growing store)
            "SELECT k.line, (SELECT f.id FROM claims_fill f WHERE f.location_id = %s"
            " AND f.rx_number = k.rx_number AND f.fill_number = k.fill_number"
            " AND f.date_of_service = k.date_of_service"
            " AND f.transaction_code = k.transaction_code) FROM ("
            "  SELECT split_part(t, ',', 1)::int AS line,"
            "    split_part(t, ',', 2)::bigint AS rx_number,"
            "    split_part(t, ',', 3)::int AS fill_number,"
            "    split_part(t, ',', 4)::date AS date_of_service,"
            "    split_part(t, ',', 5) AS transaction_code"
            "  FROM string_to_table(%s, E'\\n') AS t"
            ") k",
            [location_id, "\n".join(keys.to_pylist())],
        )
        return {line: fill_id for line, fill_id in cur.fetchall() if fill_id is not None}


def _items(
    n: int,
    problems: list[RowProblem],
    ids: dict[int, int],
    created: frozenset[int],
    written: Mapping[int, int],
) -> list[ItemResult]:
    """Each item's answer; `written` (line -> fill id) holds the fills the batch created or
    changed, `created` the ids among them it created."""
    errors: dict[int, list[dict[str, str]]] = {}
    for p in problems:
        errors.setdefault(p.line, []).append(
            {"field": p.column, "value": p.value[:200], "reason": p.reason}
        )
    items = []
    for i in range(n):
        fill_id = ids.get(i)
        if i in errors or fill_id is None:
            items.append(ItemResult(i, "rejected", None, errors.get(i, [])))
        elif fill_id in created:
            items.append(ItemResult(i, "created", fill_id, []))
        elif i in written:
            items.append(ItemResult(i, "updated", fill_id, []))
        else:
            items.append(ItemResult(i, "unchanged", fill_id, []))
    return items


class OriginalNotFound(LookupError):
    """A reversal names a bill (B1) the store does not have."""


# the reversal's amounts a caller may give instead of the original's, negated
REVERSAL_AMOUNTS = MONEY_FIELDS


def fill_reversal_push(
    *,
    location: Location,
    rx_number: int,
    fill_number: int,
    date_of_service: dt.date,
    transaction_date: dt.date,
    amounts: Mapping[str, object] | None = None,
    source: str,
    user: Principal | None = None,
) -> PushResult:
    """Reverse a stored bill: push the B2 row a PMS export would carry for it (the original's
    values, quantity and amounts negated, posted on `transaction_date`; `amounts` replace
    the negated ones, as the reversal row states them) through `push_fills`, which marks the
    bill reversed. Raises OriginalNotFound when the store has no such B1: without it there is
    no patient, drug or plan to write the reversal against. Sending it again is "unchanged"."""
    bill = (
        Fill.objects.filter(
            location=location,
            rx_number=rx_number,
            fill_number=fill_number,
            date_of_service=date_of_service,
            transaction_code="B1",
        )
        .select_related("patient", "drug", "plan", "prescription__prescriber")
        .first()
    )
    if bill is None:
        raise OriginalNotFound(
            f"No bill (B1) for Rx {rx_number} fill {fill_number} on {date_of_service} at "
            f"{location.ncpdp_id}."
        )
    row = _reversal_row(bill, transaction_date)
    row.update({k: v for k, v in (amounts or {}).items() if k in REVERSAL_AMOUNTS})
    return push_fills(location=location, rows=[row], source=source, user=user)


def _reversal_row(bill: Fill, transaction_date: dt.date) -> dict[str, object]:
    patient, drug, plan = bill.patient, bill.drug, bill.plan
    prescriber = bill.prescription.prescriber
    quantity = -bill.quantity
    return {
        "rx_number": str(bill.rx_number),
        "fill_number": str(bill.fill_number),
        "date_of_service": bill.date_of_service.isoformat(),
        "transaction_code": "B2",
        "transaction_date": transaction_date.isoformat(),
        "patient_id": patient.pms_patient_id,
        "patient_last_name": patient.last_name,
        "patient_first_name": patient.first_name,
        "patient_dob": patient.date_of_birth.isoformat(),
        "patient_sex": patient.sex,
        "patient_zip": patient.postal_code,
        "patient_phone": patient.phone,
        "med_sync_enrolled": "Y" if patient.med_sync_enrolled else "N",
        "med_sync_day": "" if patient.med_sync_day is None else str(patient.med_sync_day),
        "prescriber_npi": prescriber.npi if prescriber else "",
        "prescriber_name": prescriber.name if prescriber else "",
        "ndc": drug.ndc,
        "drug_name": drug.name,
        "generic_name": drug.generic_name,
        "brand_generic": "B" if drug.is_brand else "G",
        # as an export writes it: no trailing zeros (30, not 30.000)
        "quantity_dispensed": format(quantity.normalize(), "f") if quantity else "0",
        "days_supply": str(bill.days_supply),
        "daw_code": bill.daw_code,
        "bin": plan.bin if plan else "",
        "pcn": plan.pcn if plan else "",
        "group_id": plan.group if plan else "",
        "cardholder_id": bill.cardholder_id,
        "plan_name": plan.name if plan else "",
        "usual_and_customary": cents_text(-bill.usual_customary_cents),
        "ingredient_cost_paid": cents_text(-bill.ingredient_cost_paid_cents),
        "dispensing_fee_paid": cents_text(-bill.dispensing_fee_paid_cents),
        "patient_pay_amount": cents_text(-bill.patient_pay_cents),
        "total_amount_paid": cents_text(-bill.total_paid_cents),
        "basis_of_reimbursement": bill.basis_of_reimbursement,
        "acquisition_cost": cents_text(-bill.acquisition_cost_cents),
        "authorization_number": bill.authorization_number,
    }
