"""Reconciliation runs: load an organization's claims, 835 payments and PLB amounts as
columns, call the set-based engine (`reconciliation.engine.fast`, held equal to the reference
path `reconciliation.engine.matching`), and replace the derived rows — per-claim results,
payment matches, unmatched payments, PLB placements — in one transaction.

A run is a job (`reconcile`, on the `recon` queue): queued after an import that changed
claims or remittances, nightly by beat, by `manage.py reconcile`, or in-process. It is
incremental unless asked to rebuild everything (see `reconcile_organization`); rerunning it
on the same facts gives the same rows, so a crashed worker's retry ends where an
uninterrupted run would have.

Rows move between Postgres and pandas by COPY in CSV read and written with pyarrow: no
Python object per claim on the way in or out.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from claims.models import Plan
from reconciliation.contract_selectors import contracts_in_effect
from reconciliation.engine import contracts as core
from reconciliation.engine import fast
from reconciliation.models import ConsumedImport, ReconcileState
from rxrevops.models import Job, Organization
from rxrevops.services.jobs import (
    JobFailed,
    Progress,
    job_create,
    job_execute,
    job_handler,
    job_request_lock,
)

logger = logging.getLogger(__name__)

JOB_KIND = "reconcile"
AGE_BUCKETS = ((30, "0-30"), (60, "31-60"), (90, "61-90"))
OPEN_STATUSES = ("pending", "unpaid", "short_paid")

# (plan id, date of service) -> (the payer contract version in effect for the plan that day,
# due date, last day still pending)
TermsLookup = Callable[[int | None, date], tuple[core.ContractTerms | None, date, date]]


def reconcile_request(
    *, organization: Organization, created_by: Any = None, full: bool = False
) -> Job:
    """Queue a run (incremental unless `full`), unless one for the organization is already
    waiting (it becomes a full one if this one asks)."""
    with job_request_lock(organization=organization):
        waiting = (
            Job.objects.filter(organization=organization, kind=JOB_KIND, status=Job.Status.QUEUED)
            .order_by("pk")
            .first()
        )
        if waiting is not None:
            if not full or waiting.params.get("full"):
                return waiting
            params = {**waiting.params, "full": True}
            # only while still waiting: a worker may have claimed it (and read its params)
            if Job.objects.filter(pk=waiting.pk, status=Job.Status.QUEUED).update(params=params):
                waiting.params = params
                return waiting
        return _job(
            organization, timezone.localdate(), created_by=created_by, enqueue=True, full=full
        )


def reconcile_now(
    *, organization: Organization, as_of: date, full: bool = False, since: date | None = None
) -> Job:
    """Run in this process as a job (the command, the demo seed, tests)."""
    job = _job(organization, as_of, created_by=None, enqueue=False, full=full, since=since)
    job_execute(job_id=job.pk)
    job.refresh_from_db()
    return job


def _job(
    organization: Organization,
    as_of: date,
    *,
    created_by: Any,
    enqueue: bool,
    full: bool = False,
    since: date | None = None,
) -> Job:
    params: dict[str, Any] = {"as_of": as_of.isoformat()}
    if full:
        params["full"] = True
    if since is not None:
        params["since"] = since.isoformat()
    return job_create(
        organization=organization,
        kind=JOB_KIND,
        params=params,
        label=f"Reconciliation as of {as_of:%b %-d, %Y}" + (" (full rebuild)" if full else ""),
        created_by=created_by,
        enqueue=enqueue,
    )


@job_handler(JOB_KIND, queue="recon")
def _run(job: Job, progress: Progress) -> Mapping[str, Any]:
    try:
        as_of = date.fromisoformat(job.params["as_of"])
        since = date.fromisoformat(job.params["since"]) if job.params.get("since") else None
    except (KeyError, TypeError, ValueError):
        raise JobFailed("The job has no valid as_of date.") from None
    counts = reconcile_organization(
        organization=job.organization,
        as_of=as_of,
        job=job,
        progress=progress,
        full=bool(job.params.get("full")),
        since=since,
    )
    job.message = _summary(counts)
    job.save(update_fields=["message"])
    return counts


def _summary(counts: Mapping[str, int]) -> str:
    open_items = sum(
        counts.get(f"status_{s}", 0)
        for s in ("short_paid", "unpaid", "overpaid", "reversed_but_paid", "recouped")
    )
    how = (
        f"{counts['rebuilt']:,} rebuilt incrementally"
        if counts.get("incremental")
        else "full rebuild"
    )
    return (
        f"{counts['claims']:,} claims reconciled ({how}): {open_items:,} exceptions, "
        f"{counts['unmatched_payments']:,} payments unmatched; balanced to the cent."
    )


def contract_terms(organization_id: int) -> TermsLookup:
    """Due dates from the organization's payer contracts (the version in effect for the
    claim's plan on its date of service); without one, RECON_DAYS_TO_PAY days, no grace."""
    contracts = contracts_in_effect(organization_id)
    plans = {
        pk: core.PlanKey(bin=b, pcn=p or "", group=g or "")
        for pk, b, p, g in Plan.objects.values_list("pk", "bin", "pcn", "group")
    }
    default = core.PaymentTerms(days_to_pay=settings.RECON_DAYS_TO_PAY)
    cache: dict[tuple[int | None, date], tuple[core.ContractTerms | None, date, date]] = {}

    def lookup(plan_id: int | None, day: date) -> tuple[core.ContractTerms | None, date, date]:
        hit = cache.get((plan_id, day))
        if hit is None:
            plan = plans.get(plan_id) if plan_id is not None else None
            contract = core.contract_for(plan, day, contracts) if plan else None
            terms = contract.payment if contract else default
            hit = cache[(plan_id, day)] = (
                contract,
                core.due_date(day, terms),
                core.overdue_after(day, terms),
            )
        return hit

    return lookup


def _fingerprint(org_id: int) -> str:
    """What every claim's terms come from: the contracts in effect and the default days to
    pay (a change makes the next run a full rebuild)."""
    text = repr((contracts_in_effect(org_id), settings.RECON_DAYS_TO_PAY))
    return hashlib.sha256(text.encode()).hexdigest()


# pg advisory-lock namespace for reconciliation runs (two-int form: namespace, organization)
_LOCK_NAMESPACE = 7202

# imports whose rows results are built from, and how a run finds what each changed
IMPORT_KINDS = ("pms", "x12_835", "fees", "nadac", "acquisition")
# an incremental run that would touch more than this share of the claims rebuilds them all
FULL_ABOVE_SHARE = 0.4


def reconcile_organization(
    *,
    organization: Organization,
    as_of: date,
    job: Job | None = None,
    terms: TermsLookup | None = None,
    progress: Progress | None = None,
    full: bool = False,
    since: date | None = None,
) -> dict[str, int]:
    """Reconcile `organization` as of `as_of`; returns the run's counts.

    Incremental unless `full` (or there is nothing to build on): only the claims touched
    since the last run (by imports it has not taken in yet, by `since` — every claim dated
    from that day —, or by the passing of time: a claim falling due or changing age bucket)
    are rebuilt, with every claim and payment that shares a matching key with them and every
    claim paid in a remittance whose matches changed. The rows come out the same as a full
    rebuild's (a test holds them equal).

    One run per organization at a time (an advisory lock; a second waits), reading one
    snapshot of claims, remittances, fees and costs (REPEATABLE READ) and writing in the same
    transaction. Nothing is written unless the outcome balances to the cent: every CLP04 is
    counted once (matched to one claim or kept unmatched), and every PLB amount is placed
    once (tied, allocated, carried, or held at its remittance when it has no paid claim).
    """
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, organization.pk])
    try:
        outermost = not connection.in_atomic_block  # inside a caller's transaction: its snapshot
        with transaction.atomic():
            if outermost:
                with connection.cursor() as cur:
                    cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    # the run's joins over a whole organization hash in memory, not in batches
                    # (and no JIT, as on every connection: see DB_JIT in settings)
                    cur.execute("SET LOCAL work_mem = '128MB'")
            terms = terms or contract_terms(organization.pk)
            try:
                with transaction.atomic():
                    counts = _reconcile(organization, as_of, job, terms, full=full, since=since)
            except _Unbalanced as e:
                # the rows an incremental run built on no longer add up (changed by hand, or
                # a bug): rebuild everything rather than keep building on them
                logger.warning("organization %s: %s; rebuilding in full", organization.pk, e)
                counts = _reconcile(organization, as_of, job, terms, full=True, since=since)
                counts["full_because_incremental_did_not_balance"] = 1
    finally:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_NAMESPACE, organization.pk])
    if progress is not None:
        progress.set_total(counts["claims"])
        progress.advance(counts["claims"])
    return counts


def _reconcile(
    organization: Organization,
    as_of: date,
    job: Job | None,
    terms: TermsLookup,
    *,
    full: bool,
    since: date | None,
) -> dict[str, int]:
    org = organization.pk
    state = ReconcileState.objects.filter(organization=organization).first()
    imports = list(
        Job.objects.filter(organization=organization, kind__in=IMPORT_KINDS)
        .exclude(status__in=(Job.Status.QUEUED, Job.Status.RUNNING))
        .exclude(pk__in=ConsumedImport.objects.filter(organization=organization).values("job"))
        .values_list("pk", "kind", "location_id", "started_at")
    )
    fingerprint = _fingerprint(org)
    scope: Scope | None = None
    why_full = (
        "asked"
        if full
        else "first run"
        if state is None
        else "earlier date"
        if as_of < state.as_of
        else "contracts or plans changed"
        if state.fingerprint != fingerprint
        else ""
    )
    if not why_full and state is not None:
        scope = _scope(org, state, as_of, imports, since)
        if scope is None:
            why_full = "most claims touched"
    if scope is None:
        claims = _claims_frame(org, terms, None)
        payments, cas = _payments_frame(org, None)
        plb = _plb_frame(org, None)
        out = fast.reconcile_frames(claims, payments, cas, plb, as_of=as_of)
    else:
        claims, payments, cas, plb, fixed, fixed_alloc = _scoped_inputs(org, terms, scope)
        out = fast.reconcile_frames(
            claims, payments, cas, plb, as_of=as_of, fixed_matches=fixed,
            fixed_allocations=fixed_alloc,
        )  # fmt: skip
    _check_balance(payments, plb, out)
    claims = _costs_and_fees(org, claims, "rs_c2" if scope is not None else None)
    results = _result_rows(org, as_of, job, claims, out)
    before = _write(org, job, results, out, payments, scope)
    # what the run has taken in, and where the rows stand, in the same transaction
    ConsumedImport.objects.bulk_create(
        [ConsumedImport(job_id=imp[0], organization=organization, run=job) for imp in imports],
        ignore_conflicts=True,
    )
    kinds = {imp[1] for imp in imports}
    if scope is None or state is None:
        counts = _totals(org)
    else:
        counts = _totals_after(org, state.totals, before, results, out, payments)
        # fee lines naming no claim are recounted when statements arrive (and by every full
        # run, nightly); claims arriving for such lines lower the count at the next of those
        if "fees" in kinds:
            counts.update(_fee_lines_unmatched(org))
    ReconcileState.objects.update_or_create(
        organization=organization,
        defaults={
            "as_of": as_of,
            "job": job,
            "fingerprint": fingerprint,
            "totals": counts,
            "updated_at": timezone.now(),
            **({"full_job": job} if scope is None else {}),
        },
    )
    counts = dict(counts)
    counts.update(
        claims=counts["results"],
        rebuilt=len(results),
        incremental=int(scope is not None),
    )
    if why_full:
        counts["full_because_" + why_full.replace(" ", "_")] = 1
    try:
        _check_totals(counts)
    except JobFailed as e:
        if scope is not None:
            raise _Unbalanced(str(e)) from None
        raise
    return counts


class _Unbalanced(Exception):
    """An incremental run left the organization's totals unbalanced."""


# --- columns in --------------------------------------------------------------------------------

_BOOL = {"true_values": ["t"], "false_values": ["f"]}


def _copy_frame(sql: str, types: Mapping[str, pa.DataType]) -> pd.DataFrame:
    """The rows of `sql` as a frame, by COPY ... TO STDOUT in CSV read with pyarrow. Text
    columns come back as str ("" for NULL), dates as datetime64[ns]."""
    buf = io.BytesIO()
    with (
        connection.cursor() as cur,
        cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)") as copy,
    ):
        for block in copy:
            buf.write(block)
    buf.seek(0)
    table = pacsv.read_csv(
        buf,
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=dict(types),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            **_BOOL,
        ),
    )
    frame = table.to_pandas(date_as_object=False)
    for name, kind in types.items():
        if pa.types.is_date32(kind):
            frame[name] = frame[name].astype("datetime64[ns]")
        elif pa.types.is_string(kind):
            frame[name] = frame[name].astype(object)
    return frame


_CLAIMS_SQL = """
SELECT f.id AS fill_id, f.location_id, f.rx_number AS rx, f.fill_number AS fill,
       f.date_of_service AS dos, f.transaction_code AS tx, f.status = 'reversed' AS reversed,
       (f.plan_id IS NOT NULL AND f.status <> 'cash') AS has_plan, f.plan_id,
       f.authorization_number AS auth, f.total_paid_cents AS expected,
       f.patient_pay_cents AS patient, f.acquisition_cost_cents AS acq_pms,
       f.ingredient_cost_paid_cents AS ingredient, coalesce(d.is_brand, false) AS brand,
       f.drug_id AS drug, (f.quantity * 1000)::bigint AS qty_milli
FROM claims_fill f {scope}
LEFT JOIN claims_drug d ON d.id = f.drug_id
WHERE f.location_id = ANY(ARRAY(SELECT id FROM rxrevops_location WHERE organization_id = {org}))
"""
_CLAIM_TYPES = {
    "fill_id": pa.int64(), "location_id": pa.int64(), "rx": pa.int64(), "fill": pa.int64(),
    "dos": pa.date32(), "tx": pa.string(), "reversed": pa.bool_(), "has_plan": pa.bool_(),
    "plan_id": pa.int64(), "auth": pa.string(), "expected": pa.int64(), "patient": pa.int64(),
    "acq_pms": pa.int64(), "ingredient": pa.int64(), "brand": pa.bool_(), "drug": pa.int64(),
    "qty_milli": pa.int64(),
}  # fmt: skip


def _claims_frame(org_id: int, terms: TermsLookup, scope: str | None) -> pd.DataFrame:
    """The claims (all, or those in the temp table `scope`) with each claim's due date, last
    pending day and estimated fees from its contract terms."""
    join = f"JOIN {scope} s ON s.id = f.id" if scope else ""
    claims = _copy_frame(_CLAIMS_SQL.format(scope=join, org=int(org_id)), _CLAIM_TYPES)
    return _with_terms(claims, terms)


def _ratio(percent: Decimal) -> tuple[int, int]:
    """percent / 100 as an exact (numerator, denominator)."""
    num, den = percent.as_integer_ratio()
    return num, den * 100


def _with_terms(claims: pd.DataFrame, terms: TermsLookup) -> pd.DataFrame:
    pairs = claims[["plan_id", "dos"]].drop_duplicates()
    rows = []
    for plan, day in pairs.itertuples(index=False):
        plan_id = None if pd.isna(plan) else int(plan)
        contract, due, last_pending = terms(plan_id, day.date())
        fees = contract.fees if contract is not None else core.FeeTerms()
        rows.append(
            (plan, day, due, last_pending, contract is not None, fees.per_claim_cents,
             *_ratio(fees.pct_of_ingredient), *_ratio(fees.pct_of_plan_paid))
        )  # fmt: skip
    names = ["plan_id", "dos", "due", "due_on", "contract", "per_claim",
             "ing_num", "ing_den", "paid_num", "paid_den"]  # fmt: skip
    table = pd.DataFrame(rows, columns=names)
    table = table.astype({"plan_id": claims["plan_id"].dtype, "dos": "datetime64[ns]",
                          "due": "datetime64[ns]", "due_on": "datetime64[ns]"})  # fmt: skip
    out = claims.merge(table, on=["plan_id", "dos"], how="left", validate="many_to_one")
    estimated = (
        out["per_claim"]
        + _half_up(out["ingredient"], out["ing_num"], out["ing_den"])
        + _half_up(out["expected"], out["paid_num"], out["paid_den"])
    )
    applies = out["contract"] & out["has_plan"] & (out["tx"] != "B2")
    out["estimated"] = np.where(applies, estimated, 0).astype(np.int64)
    return out.drop(columns=["per_claim", "ing_num", "ing_den", "paid_num", "paid_den"])


def _half_up(cents: pd.Series, num: pd.Series, den: pd.Series) -> pd.Series:
    """cents x num / den rounded half away from zero, exactly (as `core.round_cents`)."""
    product = cents.astype(np.int64) * num.astype(np.int64)
    den = den.astype(np.int64)
    magnitude = (product.abs() * 2 + den) // (den * 2)
    return np.sign(product) * magnitude


_PAYMENTS_SQL = """
SELECT p.id AS payment_id, p.remittance_id, p.location_id, p.claim_ref,
       p.payer_claim_control AS ctrl, p.status, coalesce(p.paid_cents, 0) AS paid,
       p.service_date
FROM reconciliation_claimpayment p {scope}
JOIN reconciliation_remittance r ON r.id = p.remittance_id
WHERE r.organization_id = {org} AND r.superseded_by_id IS NULL
"""
_PAYMENT_TYPES = {
    "payment_id": pa.int64(), "remittance_id": pa.int64(), "location_id": pa.int64(),
    "claim_ref": pa.string(), "ctrl": pa.string(), "status": pa.string(), "paid": pa.int64(),
    "service_date": pa.date32(),
}  # fmt: skip
_CAS_SQL = """
SELECT a.claim_id AS payment_id, a."group", a.reason, a.amount_cents AS cents
FROM reconciliation_adjustment a
JOIN ({payments}) p ON p.payment_id = a.claim_id
"""
_CAS_TYPES = {
    "payment_id": pa.int64(),
    "group": pa.string(),
    "reason": pa.string(),
    "cents": pa.int64(),
}


def _payments_frame(org_id: int, scope: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The claim payments of the organization's current remittances (a re-sent remittance
    replaces the one it supersedes; all, or those in the temp table `scope`), and their CAS
    adjustments."""
    join = f"JOIN {scope} s ON s.id = p.id" if scope else ""
    sql = _PAYMENTS_SQL.format(scope=join, org=int(org_id))
    payments = _copy_frame(sql, _PAYMENT_TYPES)
    payments["location_id"] = payments["location_id"].astype("Int64")
    payments["ctrl"] = payments["ctrl"].str.strip()
    cas = _copy_frame(_CAS_SQL.format(payments=sql), _CAS_TYPES)
    return payments, cas


_PLB_SQL = """
SELECT a.id AS adjustment_id, a.remittance_id, a.reason, a.reference, a.amount_cents AS amount
FROM reconciliation_provideradjustment a
JOIN reconciliation_remittance r ON r.id = a.remittance_id {scope}
WHERE r.organization_id = {org} AND r.superseded_by_id IS NULL
"""
_PLB_TYPES = {
    "adjustment_id": pa.int64(), "remittance_id": pa.int64(), "reason": pa.string(),
    "reference": pa.string(), "amount": pa.int64(),
}  # fmt: skip


def _plb_frame(org_id: int, scope: str | None) -> pd.DataFrame:
    """PLB amounts of the current remittances (all, or of the remittances in `scope`)."""
    join = f"JOIN {scope} s ON s.id = r.id" if scope else ""
    plb = _copy_frame(_PLB_SQL.format(scope=join, org=int(org_id)), _PLB_TYPES)
    plb["reference"] = plb["reference"].str.strip()
    return plb


# the store's latest invoice price of the NDC on or before the date of service, else the
# NADAC in effect that day; x quantity, half-up to the cent
# prices per drug (NDC) in units of 1/100,000 dollar (the columns' scale: exact integers)
_INVOICE_SQL = """
SELECT a.location_id, d.id AS drug, a.invoice_date AS day, a.id,
       (a.unit_cost * 100000)::bigint AS unit
FROM reconciliation_acquisitioncost a JOIN claims_drug d ON d.ndc = a.ndc
WHERE a.location_id = ANY(ARRAY(SELECT id FROM rxrevops_location WHERE organization_id = {org}))
{drugs}
"""
_NADAC_SQL = """
SELECT d.id AS drug, n.effective_date AS day, n.id, (n.per_unit * 100000)::bigint AS unit
FROM reconciliation_nadacprice n JOIN claims_drug d ON d.ndc = n.ndc
WHERE n.organization_id = {org} {drugs}
"""
_PRICE_TYPES = {
    "location_id": pa.int64(), "drug": pa.int64(), "day": pa.date32(), "id": pa.int64(),
    "unit": pa.int64(),
}  # fmt: skip
_FEES_SQL = """
SELECT f.id AS fill_id, sum(l.amount_cents) AS fees
FROM reconciliation_feeline l
JOIN claims_fill f ON f.location_id = l.location_id AND f.rx_number = l.rx_number
 AND f.fill_number = l.fill_number AND f.date_of_service = l.date_of_service
 AND f.transaction_code = l.transaction_code
WHERE l.organization_id = {org}
GROUP BY f.id
"""
# for a part: each claim's lines through the statement key's index (the planner, which
# cannot know how few claims the part holds, would join every line of the organization)
_FEES_SCOPED_SQL = """
SELECT f.id AS fill_id, x.fees
FROM {scope} s JOIN claims_fill f ON f.id = s.id
CROSS JOIN LATERAL (
  SELECT sum(l.amount_cents) AS fees FROM reconciliation_feeline l
  WHERE l.location_id = f.location_id AND l.rx_number = f.rx_number
    AND l.fill_number = f.fill_number AND l.date_of_service = f.date_of_service
    AND l.transaction_code = f.transaction_code AND l.organization_id = {org}) x
WHERE x.fees IS NOT NULL
"""
_UNMATCHED_FEES_SQL = """
SELECT count(*), coalesce(sum(l.amount_cents), 0)
FROM reconciliation_feeline l
WHERE l.organization_id = %(org)s AND NOT EXISTS (
  SELECT 1 FROM claims_fill f WHERE f.location_id = l.location_id
   AND f.rx_number = l.rx_number AND f.fill_number = l.fill_number
   AND f.date_of_service = l.date_of_service AND f.transaction_code = l.transaction_code)
"""


def _costs_and_fees(org_id: int, claims: pd.DataFrame, scope: str | None) -> pd.DataFrame:
    """`claims` with acquisition (cents) and its source: the store's latest invoice price on
    or before the date of service, else the latest NADAC, else the PMS's cost, times the
    quantity, rounded half-up to the cent; and the fee statements' actual fees
    (`fees_actual`, NaN where no line arrived)."""
    org = int(org_id)
    drugs = (
        f"AND d.id IN (SELECT f.drug_id FROM {scope} s JOIN claims_fill f ON f.id = s.id)"
        if scope
        else ""
    )
    invoice = _copy_frame(_INVOICE_SQL.format(org=org, drugs=drugs), _PRICE_TYPES)
    nadac = _copy_frame(
        _NADAC_SQL.format(org=org, drugs=drugs),
        {k: v for k, v in _PRICE_TYPES.items() if k != "location_id"},
    )
    fees = _copy_frame(
        _FEES_SCOPED_SQL.format(scope=scope, org=org) if scope else _FEES_SQL.format(org=org),
        {"fill_id": pa.int64(), "fees": pa.int64()},
    )
    out = claims.merge(fees, on="fill_id", how="left")
    by_invoice = price_on_day(out, invoice, ["location_id", "drug"])
    by_nadac = price_on_day(out, nadac, ["drug"])
    qty = out["qty_milli"]
    source = np.where(by_invoice.notna(), "invoice", np.where(by_nadac.notna(), "nadac", "pms"))
    unit = by_invoice.fillna(by_nadac)
    priced = unit.notna().to_numpy()
    acquisition = out["acq_pms"].to_numpy(dtype=np.int64, copy=True)
    acquisition[priced] = _cents_of(unit[priced], qty[priced])
    out["acquisition"] = acquisition
    out["source"] = source
    return out.rename(columns={"fees": "fees_actual"})


def price_on_day(claims: pd.DataFrame, prices: pd.DataFrame, by: list[str]) -> pd.Series:
    """Per claim (aligned with `claims`), the `unit` of the latest price row with the same
    `by` keys dated on or before the claim's date of service (the highest id among those of
    that date); NaN where there is none."""
    out = pd.Series(np.nan, index=claims.index, dtype="float64")
    known = claims[by].notna().all(axis=1).to_numpy()
    if prices.empty or not known.any():
        return out
    right = prices.sort_values([*by, "day", "id"]).drop_duplicates([*by, "day"], keep="last")
    right = right.astype({k: np.int64 for k in by}).sort_values("day", kind="stable")
    left = claims.loc[known, [*by, "dos"]].astype({k: np.int64 for k in by})
    left = left.assign(_row=np.flatnonzero(known)).sort_values("dos", kind="stable")
    hit = pd.merge_asof(
        left, right[[*by, "day", "unit"]], left_on="dos", right_on="day", by=by,
        direction="backward", allow_exact_matches=True,
    )  # fmt: skip
    values = out.to_numpy(copy=True)
    values[hit["_row"].to_numpy()] = hit["unit"].to_numpy(dtype="float64")
    return pd.Series(values, index=claims.index)


def _cents_of(unit: pd.Series, qty_milli: pd.Series) -> np.ndarray:
    """unit (1/100,000 dollar) x quantity (1/1,000) in cents, half away from zero, exactly."""
    u = unit.to_numpy(dtype=np.int64)
    q = qty_milli.to_numpy(dtype=np.int64)
    if len(u) and int(np.abs(u).max()) * int(np.abs(q).max()) >= 1 << 61:  # beyond int64
        return np.array(
            [
                int((Decimal(int(a)) * int(b) / 10**6).to_integral_value(ROUND_HALF_UP))
                for a, b in zip(u, q, strict=True)
            ],
            dtype=np.int64,
        )
    product = u * q
    return np.sign(product) * ((np.abs(product) * 2 + 10**6) // (2 * 10**6))


# --- what an incremental run rebuilds --------------------------------------------------------

_SCOPE_TABLES = (
    # claims C1 (sharing a matching key with something touched) and C2 (C1 + claims paid in a
    # remittance whose matches changed, + claims its PLB references)
    # (r: the round of the closure that brought the row in; seeds are round 0)
    "CREATE TEMP TABLE rs_c1 (id bigint PRIMARY KEY, r int NOT NULL DEFAULT 0) ON COMMIT DROP",
    "CREATE TEMP TABLE rs_c2 (id bigint PRIMARY KEY) ON COMMIT DROP",
    # payments matched anew
    "CREATE TEMP TABLE rs_pay (id bigint PRIMARY KEY, r int NOT NULL DEFAULT 0) ON COMMIT DROP",
    "CREATE TEMP TABLE rs_fixed (id bigint PRIMARY KEY) ON COMMIT DROP",  # kept as matched
    "CREATE TEMP TABLE rs_remit (id bigint PRIMARY KEY) ON COMMIT DROP",  # PLB placed anew
    "CREATE TEMP TABLE rs_remit_changed (id bigint PRIMARY KEY) ON COMMIT DROP",
    "CREATE TEMP TABLE rs_new_remit (id bigint PRIMARY KEY) ON COMMIT DROP",
    "CREATE TEMP TABLE rs_gone_pay (id bigint PRIMARY KEY) ON COMMIT DROP",  # superseded
    "CREATE TEMP TABLE rs_gone_plb (id bigint PRIMARY KEY) ON COMMIT DROP",
    # matching keys: store (0: a payment whose payee store is unknown), Rx number, day
    "CREATE TEMP TABLE rs_key (loc bigint, rx bigint, dos date, r int NOT NULL, "
    "PRIMARY KEY (loc, rx, dos)) ON COMMIT DROP",
    "CREATE TEMP TABLE rs_auth (auth text PRIMARY KEY, r int NOT NULL) ON COMMIT DROP",
)

# (the organization's stores as an array computed once: a filter, not a join to plan)
_IN_ORG_FILLS = (
    "f.location_id = ANY(ARRAY(SELECT id FROM rxrevops_location WHERE organization_id = {org}))"
)
_CURRENT = (
    "JOIN reconciliation_remittance r ON r.id = p.remittance_id AND r.organization_id = {org} "
    "AND r.superseded_by_id IS NULL"
)

# one round n of the key closure: the keys of what round n brought in, then (round n + 1)
# every claim and payment sharing one of those keys. A payment names its store's claims, or
# when its payee store is unknown (key store 0) every store's; a claim is named by payments
# of its store or of no known store. Each probe is a LATERAL index lookup per key: the
# planner, which cannot know how few keys the temp tables hold, would hash whole tables.
_CLOSURE = (
    # the keys and authorizations of the claims, then of the payments: each row read once
    "WITH f AS MATERIALIZED (SELECT f.location_id, f.rx_number, f.date_of_service, "
    "f.authorization_number FROM rs_c1 s JOIN claims_fill f ON f.id = s.id WHERE s.r = {n}), "
    "k AS (INSERT INTO rs_key SELECT DISTINCT location_id, rx_number, date_of_service, {n} "
    "FROM f ON CONFLICT DO NOTHING) "
    "INSERT INTO rs_auth SELECT DISTINCT authorization_number, {n} FROM f "
    "WHERE authorization_number <> '' ON CONFLICT DO NOTHING",
    # (the payment's Rx number: the stored column claim_rx, recon_claim_rx(CLP01))
    "WITH p AS MATERIALIZED (SELECT p.location_id, p.claim_rx, p.service_date, "
    "recon_trim(p.payer_claim_control) AS auth FROM rs_pay s "
    "JOIN reconciliation_claimpayment p ON p.id = s.id WHERE s.r = {n}), "
    "k AS (INSERT INTO rs_key SELECT DISTINCT coalesce(location_id, 0), claim_rx, "
    "service_date, {n} FROM p WHERE service_date IS NOT NULL AND claim_rx IS NOT NULL "
    "ON CONFLICT DO NOTHING) "
    "INSERT INTO rs_auth SELECT DISTINCT auth, {n} FROM p WHERE auth <> '' "
    "ON CONFLICT DO NOTHING",
    # the claims and the payments of those keys and authorizations, each set written once
    # (the lookups by key and by authorization mostly find the same rows)
    "INSERT INTO rs_c1 SELECT DISTINCT id, {m} FROM ("
    "SELECT x.id FROM rs_key k CROSS JOIN LATERAL (SELECT f.id "
    "FROM claims_fill f WHERE f.location_id = k.loc AND f.rx_number = k.rx "
    "AND f.date_of_service = k.dos OFFSET 0) x WHERE k.r = {n} AND k.loc <> 0 "
    "UNION ALL SELECT x.id FROM rs_key k CROSS JOIN LATERAL (SELECT f.id "
    "FROM claims_fill f WHERE f.location_id = ANY({locs}) AND f.rx_number = k.rx "
    "AND f.date_of_service = k.dos OFFSET 0) x WHERE k.r = {n} AND k.loc = 0 "
    "UNION ALL SELECT x.id FROM rs_auth a CROSS JOIN LATERAL (SELECT f.id "
    "FROM claims_fill f WHERE f.authorization_number = a.auth AND f.authorization_number <> '' "
    "AND f.location_id = ANY({locs}) OFFSET 0) x WHERE a.r = {n}"
    ") found ON CONFLICT DO NOTHING",
    "INSERT INTO rs_pay SELECT DISTINCT id, {m} FROM ("
    "SELECT x.id FROM rs_key k CROSS JOIN LATERAL (SELECT p.id "
    "FROM reconciliation_claimpayment p " + _CURRENT + " WHERE p.claim_rx = k.rx "
    "AND p.service_date = k.dos AND (k.loc = 0 OR p.location_id IS NULL OR p.location_id = k.loc) "
    "OFFSET 0) x WHERE k.r = {n} "
    "UNION ALL SELECT x.id FROM rs_auth a CROSS JOIN LATERAL (SELECT p.id "
    "FROM reconciliation_claimpayment p " + _CURRENT + " WHERE recon_trim(p.payer_claim_control) "
    "= a.auth AND recon_trim(p.payer_claim_control) <> '' OFFSET 0) x WHERE a.r = {n}"
    ") found ON CONFLICT DO NOTHING",
)


_PLANNER = ("enable_hashjoin", "enable_mergejoin", "enable_seqscan")


def _planner_reset(cur: Any) -> None:
    for setting in _PLANNER:
        cur.execute(f"RESET {setting}")


@dataclass(frozen=True)
class Scope:
    """An incremental run's part of the organization, in the rs_* temp tables."""

    claims: int  # C1


def _scope(
    org_id: int,
    state: ReconcileState,
    as_of: date,
    imports: Sequence[tuple[int, str, int | None, Any]],
    since: date | None,
) -> Scope | None:
    """Fill the rs_* tables with what this run rebuilds; None when that is most claims."""
    org = int(org_id)
    jobs: dict[str, list[int]] = {}
    for pk, kind, _, _ in imports:
        jobs.setdefault(kind, []).append(pk)
    with connection.cursor() as cur:
        # inside a caller's transaction an earlier run's tables are still there
        cur.execute(
            "DROP TABLE IF EXISTS rs_c1, rs_c2, rs_pay, rs_fixed, rs_remit, rs_remit_changed, "
            "rs_new_remit, rs_gone_pay, rs_gone_plb, rs_key, rs_auth, rs_extra"
        )
        for ddl in _SCOPE_TABLES:
            cur.execute(ddl)
        # PMS claims written (or marked reversed) by the imports: through the source job
        # index, in the organization's stores (a job's rows are its store's)
        if jobs.get("pms"):
            cur.execute(
                "INSERT INTO rs_c1 SELECT f.id FROM claims_fill f "
                f"WHERE f.source_job_id = ANY(%s) AND {_IN_ORG_FILLS.format(org=org)} "
                "ON CONFLICT DO NOTHING",
                [jobs["pms"]],
            )
        if jobs.get("fees"):
            cur.execute(
                "INSERT INTO rs_c1 SELECT f.id FROM reconciliation_feeline l JOIN claims_fill f "
                "ON f.location_id = l.location_id AND f.rx_number = l.rx_number "
                "AND f.fill_number = l.fill_number AND f.date_of_service = l.date_of_service "
                "AND f.transaction_code = l.transaction_code "
                "WHERE l.job_id = ANY(%s) ON CONFLICT DO NOTHING",
                [jobs["fees"]],
            )
        if jobs.get("acquisition"):
            cur.execute(
                "INSERT INTO rs_c1 SELECT f.id FROM reconciliation_acquisitioncost a "
                "JOIN claims_drug d ON d.ndc = a.ndc JOIN claims_fill f "
                "ON f.location_id = a.location_id AND f.drug_id = d.id "
                "AND f.date_of_service >= a.invoice_date "
                "WHERE a.job_id = ANY(%s) ON CONFLICT DO NOTHING",
                [jobs["acquisition"]],
            )
        nadac_since = [started for _, kind, _, started in imports if kind == "nadac" and started]
        if jobs.get("nadac"):
            # NADAC rows carry no job: those written since the earliest such import started
            cur.execute(
                "INSERT INTO rs_c1 SELECT f.id FROM reconciliation_nadacprice n "
                "JOIN claims_drug d ON d.ndc = n.ndc JOIN claims_fill f ON f.drug_id = d.id "
                "AND f.date_of_service >= n.effective_date "
                f"WHERE n.organization_id = {org} AND n.updated_at >= %s "
                f"AND {_IN_ORG_FILLS.format(org=org)} ON CONFLICT DO NOTHING",
                [min(nadac_since) if nadac_since else state.updated_at],
            )
        if jobs.get("x12_835"):
            # remittances the imports wrote, and the ones they superseded
            cur.execute(
                "INSERT INTO rs_new_remit SELECT id FROM reconciliation_remittance "
                f"WHERE organization_id = {org} AND job_id = ANY(%s) "
                "UNION SELECT o.id FROM reconciliation_remittance o "
                "JOIN reconciliation_remittance n ON n.id = o.superseded_by_id "
                f"WHERE n.organization_id = {org} AND n.job_id = ANY(%s) ON CONFLICT DO NOTHING",
                [jobs["x12_835"], jobs["x12_835"]],
            )
            cur.execute("ANALYZE rs_new_remit")  # a few remittances: probe, do not scan
            cur.execute(
                "INSERT INTO rs_pay SELECT p.id FROM rs_new_remit n "
                "JOIN reconciliation_claimpayment p ON p.remittance_id = n.id "
                + _CURRENT.format(org=org)
            )
            cur.execute(
                "INSERT INTO rs_gone_pay SELECT p.id FROM rs_new_remit n "
                "JOIN reconciliation_remittance r ON r.id = n.id "
                "JOIN reconciliation_claimpayment p ON p.remittance_id = r.id "
                "WHERE r.superseded_by_id IS NOT NULL"
            )
            cur.execute(
                "INSERT INTO rs_gone_plb SELECT a.id FROM rs_new_remit n "
                "JOIN reconciliation_remittance r ON r.id = n.id "
                "JOIN reconciliation_provideradjustment a ON a.remittance_id = r.id "
                "WHERE r.superseded_by_id IS NOT NULL"
            )
            # what the superseded payments and PLB were placed on is rebuilt
            cur.execute(
                "INSERT INTO rs_c1 SELECT m.fill_id FROM reconciliation_paymentmatch m "
                "JOIN rs_gone_pay g ON g.id = m.payment_id ON CONFLICT DO NOTHING"
            )
            cur.execute(
                "INSERT INTO rs_c1 SELECT a.fill_id FROM reconciliation_plballocation a "
                "JOIN rs_gone_plb g ON g.id = a.adjustment_id WHERE a.fill_id IS NOT NULL "
                "ON CONFLICT DO NOTHING"
            )
        if as_of > state.as_of:
            # time passed: claims falling due, and open items changing age bucket
            cur.execute(
                "INSERT INTO rs_c1 SELECT fill_id FROM reconciliation_claimresult "
                f"WHERE organization_id = {org} AND status = ANY(%(open)s) AND "
                "((status = 'pending' AND due_on < %(as_of)s) OR age_bucket <> CASE "
                "WHEN %(as_of)s - date_of_service <= 30 THEN '0-30' "
                "WHEN %(as_of)s - date_of_service <= 60 THEN '31-60' "
                "WHEN %(as_of)s - date_of_service <= 90 THEN '61-90' ELSE '90+' END) "
                "ON CONFLICT DO NOTHING",
                {"open": list(OPEN_STATUSES), "as_of": as_of},
            )
        if since is not None:
            cur.execute(
                "INSERT INTO rs_c1 SELECT f.id FROM claims_fill f "
                f"WHERE {_IN_ORG_FILLS.format(org=org)} AND f.date_of_service >= %s "
                "ON CONFLICT DO NOTHING",
                [since],
            )
        # the organization's claims as of the last run (its results): counting them again
        # would read every store's index for a bound that a day's new claims do not move
        total = int((state.totals or {}).get("results", 0))
        if not total:
            cur.execute(f"SELECT count(*) FROM claims_fill f WHERE {_IN_ORG_FILLS.format(org=org)}")
            total = cur.fetchone()[0]
        limit = max(1000, FULL_ABOVE_SHARE * total)
        # the closure: every claim and payment sharing a key (Rx + date of service, or an
        # authorization / CLP07) with what is in, until nothing new comes in. Few keys probe
        # the key indexes; the planner, which cannot cost the CLP01 expression, would hash
        # whole tables instead.
        # Everything an incremental run reads and writes from here is a few rows found
        # through indexes; the planner, which cannot cost the CLP01 expression or know how
        # small the temp tables are, would scan and hash whole tables (reset by the totals).
        for setting in _PLANNER:
            cur.execute(f"SET LOCAL {setting} = off")
        cur.execute("SELECT array_agg(id) FROM rxrevops_location WHERE organization_id = %s", [org])
        locs = "'{" + ",".join(str(int(x)) for x in (cur.fetchone()[0] or [])) + "}'::bigint[]"
        n = 0
        while True:
            grew = 0
            for statement in _CLOSURE:
                cur.execute(statement.format(org=org, n=n, m=n + 1, locs=locs))
                if statement.startswith(("INSERT INTO rs_c1", "INSERT INTO rs_pay")):
                    grew += max(cur.rowcount, 0)
            cur.execute("SELECT count(*) FROM rs_c1")
            claims = cur.fetchone()[0]
            n += 1
            if claims > limit or not grew:
                break
        if claims > limit:
            _planner_reset(cur)
            return None
        # PLB whose reference is one of these authorizations is placed anew (uniqueness of
        # the reference may have changed), with the remittances the imports wrote
        cur.execute(
            "INSERT INTO rs_remit SELECT DISTINCT a.remittance_id "
            "FROM reconciliation_provideradjustment a JOIN rs_auth x "
            "ON recon_trim(a.reference) = x.auth JOIN reconciliation_remittance r "
            f"ON r.id = a.remittance_id AND r.organization_id = {org} "
            "AND r.superseded_by_id IS NULL ON CONFLICT DO NOTHING"
        )
        cur.execute(
            "INSERT INTO rs_remit SELECT n.id FROM rs_new_remit n "
            "JOIN reconciliation_remittance r ON r.id = n.id "
            "WHERE r.superseded_by_id IS NULL ON CONFLICT DO NOTHING"
        )
        cur.execute("ANALYZE rs_c1")
        cur.execute("ANALYZE rs_pay")
    return Scope(claims=claims)


def _scoped_inputs(
    org_id: int, terms: TermsLookup, scope: Scope
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The engine's inputs for an incremental run: claims C2, payments (matched anew and kept),
    CAS rows, the PLB placed anew, the kept matches and the kept PLB placements on C2."""
    org = int(org_id)
    c1 = _claims_frame(org, terms, "rs_c1")
    p1, cas1 = _payments_frame(org, "rs_pay")
    matched, unmatched = fast.match(c1, p1)
    stored = _copy_frame(
        "SELECT m.payment_id, m.fill_id FROM reconciliation_paymentmatch m "
        "JOIN rs_pay s ON s.id = m.payment_id",
        {"payment_id": pa.int64(), "fill_id": pa.int64()},
    )
    both = p1[["payment_id", "remittance_id"]].merge(
        matched[["payment_id", "fill_id"]], on="payment_id", how="left"
    )
    both = both.merge(stored, on="payment_id", how="left", suffixes=("", "_was"))
    changed = both["fill_id"].fillna(-1) != both["fill_id_was"].fillna(-1)
    remits = both.loc[changed, "remittance_id"].drop_duplicates()
    with connection.cursor() as cur:
        if len(remits):
            with cur.copy("COPY rs_remit_changed (id) FROM STDIN") as copy:
                copy.write("".join(f"{int(r)}\n" for r in remits))
        cur.execute("INSERT INTO rs_remit SELECT id FROM rs_remit_changed ON CONFLICT DO NOTHING")
        cur.execute("ANALYZE rs_remit")
        # C2: C1, the claims paid in a remittance placed anew (as matched before, and anew),
        # and every claim carrying an authorization such a remittance's PLB references
        cur.execute("INSERT INTO rs_c2 SELECT id FROM rs_c1")
        cur.execute(
            "INSERT INTO rs_c2 SELECT m.fill_id FROM rs_remit x "
            "JOIN reconciliation_claimpayment p ON p.remittance_id = x.id "
            "JOIN reconciliation_paymentmatch m ON m.payment_id = p.id ON CONFLICT DO NOTHING"
        )
        cur.execute(
            "INSERT INTO rs_c2 SELECT y.id FROM rs_remit x "
            "JOIN reconciliation_provideradjustment a ON a.remittance_id = x.id "
            "CROSS JOIN LATERAL (SELECT f.id FROM claims_fill f "
            "WHERE f.authorization_number = recon_trim(a.reference) "
            f"AND f.authorization_number <> '' AND {_IN_ORG_FILLS.format(org=org)} OFFSET 0) y "
            "WHERE recon_trim(a.reference) <> '' ON CONFLICT DO NOTHING"
        )
        cur.execute("CREATE TEMP TABLE rs_extra ON COMMIT DROP AS "
                    "SELECT id FROM rs_c2 EXCEPT SELECT id FROM rs_c1")  # fmt: skip
        # their payments stay matched as they were
        cur.execute(
            "INSERT INTO rs_fixed SELECT m.payment_id FROM reconciliation_paymentmatch m "
            "JOIN rs_extra e ON e.id = m.fill_id ON CONFLICT DO NOTHING"
        )
        cur.execute("ANALYZE rs_c2")
    extra = _claims_frame(org, terms, "rs_extra")
    fixed_p, fixed_cas = _payments_frame(org, "rs_fixed")
    fixed = _copy_frame(
        "SELECT m.payment_id, m.fill_id, m.how FROM reconciliation_paymentmatch m "
        "JOIN rs_fixed s ON s.id = m.payment_id",
        {"payment_id": pa.int64(), "fill_id": pa.int64(), "how": pa.string()},
    )
    plb = _plb_frame(org, "rs_remit")
    fixed_alloc = _copy_frame(
        # from each claim (the planner would read every placement of the organization)
        "SELECT a.adjustment_id, a.fill_id, a.cents, a.allocated, p.reason FROM rs_c2 s "
        "CROSS JOIN LATERAL (SELECT a.adjustment_id, a.fill_id, a.amount_cents AS cents, "
        "a.allocated FROM reconciliation_plballocation a WHERE a.fill_id = s.id OFFSET 0) a "
        "JOIN reconciliation_provideradjustment p ON p.id = a.adjustment_id "
        "WHERE p.remittance_id NOT IN (SELECT id FROM rs_remit)",
        {"adjustment_id": pa.int64(), "fill_id": pa.int64(), "cents": pa.int64(),
         "allocated": pa.bool_(), "reason": pa.string()},
    )  # fmt: skip
    fixed_alloc["fill_id"] = fixed_alloc["fill_id"].astype("Int64")
    claims = pd.concat([c1, extra], ignore_index=True)
    payments = pd.concat([p1, fixed_p], ignore_index=True)
    cas = pd.concat([cas1, fixed_cas], ignore_index=True)
    del unmatched
    return claims, payments, cas, plb, fixed, fixed_alloc


# --- columns out -------------------------------------------------------------------------------


def _check_balance(payments: pd.DataFrame, plb: pd.DataFrame, out: fast.Frames) -> None:
    """The run's part balances, or nothing is written (JobFailed)."""
    total = int(payments["paid"].sum())
    matched = int(out.results["remitted"].sum())
    lost = payments[payments["payment_id"].isin(out.unmatched["payment_id"])]
    unmatched = int(lost["paid"].sum())
    if total != matched + unmatched:
        raise JobFailed(
            f"The run does not balance: {total} cents paid on claims != {matched} matched + "
            f"{unmatched} unmatched. Nothing was written."
        )
    amount, placed = int(plb["amount"].sum()), int(out.allocations["cents"].sum())
    if amount != placed:
        raise JobFailed(
            f"The run does not balance: {amount} cents of PLB != {placed} placed. "
            "Nothing was written."
        )


def age_bucket(as_of: date, date_of_service: date) -> str:
    days = (as_of - date_of_service).days
    for limit, name in AGE_BUCKETS:
        if days <= limit:
            return name
    return "90+"


_RESULT_COLUMNS = (
    "organization_id", "location_id", "fill_id", "date_of_service", "status", "matched_by",
    "payments", "expected_cents", "remitted_cents", "recouped_cents", "dir_cents",
    "variance_cents", "fees_actual_cents", "fees_estimated_cents", "acquisition_cents",
    "acquisition_source", "net_margin_cents", "due_on", "age_bucket", "below_cost", "reasons",
    "job_id", "computed_at", "digest",
)  # fmt: skip


def _result_rows(
    org_id: int,
    as_of: date,
    job: Job | None,
    claims: pd.DataFrame,
    out: fast.Frames,
) -> pd.DataFrame:
    """One ClaimResult row per claim (`claims` with costs and fees), as columns
    (`_RESULT_COLUMNS`)."""
    r = claims.merge(out.results, on="fill_id", how="inner", validate="one_to_one")
    plan = r["has_plan"].to_numpy()
    status = r["status"].to_numpy()
    variance = (r["remitted"] - r["recouped"]).to_numpy()
    actual = r["fees_actual"]
    # fees: the statement's lines once they arrived for the claim, else the estimate
    fees = actual.fillna(r["estimated"]).astype(np.int64).to_numpy()
    # what the script earned: money received (promised, while not yet due) + patient pay
    plan_money = np.where(status == "pending", r["expected"], variance)
    patient = r["patient"].to_numpy()
    earned = np.where(plan, plan_money + patient - r["allocated"].to_numpy() - fees, patient)
    # not dispensed (or the reversal itself): no cost, no fees, nothing earned
    void = (r["tx"].to_numpy() == "B2") | (status == "reversed")
    earned = np.where(void, 0, earned)
    acquisition = np.where(void, 0, r["acquisition"].to_numpy())
    source = np.where(void, "", r["source"].to_numpy())
    days = (pd.Timestamp(as_of) - r["dos"]).dt.days.to_numpy()
    bucket = np.select([days <= 30, days <= 60, days <= 90], ["0-30", "31-60", "61-90"], "90+")
    open_item = np.isin(status, OPEN_STATUSES)
    return pd.DataFrame(
        {
            "organization_id": np.full(len(r), int(org_id), dtype=np.int64),
            "location_id": r["location_id"].to_numpy(),
            "fill_id": r["fill_id"].to_numpy(),
            "date_of_service": r["dos"].to_numpy(),
            "status": status,
            "matched_by": r["matched_by"].to_numpy(),
            "payments": r["payments"].to_numpy(),
            "expected_cents": r["expected"].to_numpy(),
            "remitted_cents": r["remitted"].to_numpy(),
            "recouped_cents": r["recouped"].to_numpy(),
            "dir_cents": r["dir"].to_numpy(),
            "variance_cents": np.where(plan, variance - r["expected"].to_numpy(), 0),
            "fees_actual_cents": actual.fillna(0).astype(np.int64).to_numpy(),
            "fees_estimated_cents": r["estimated"].to_numpy(),
            "acquisition_cents": acquisition,
            "acquisition_source": source,
            "net_margin_cents": earned - acquisition,
            "due_on": r["due"].where(r["has_plan"]).to_numpy(),
            "age_bucket": np.where(open_item, bucket, ""),
            "below_cost": (r["tx"].to_numpy() != "B2")
            & (r["expected"].to_numpy() + patient < acquisition),
            "reasons": r["reasons"].to_numpy(),
            "job_id": pd.array([job.pk if job else None] * len(r), dtype="Int64"),
            "computed_at": timezone.now().isoformat(),
        }
    ).pipe(_with_digest)


def _copy_in(table: str, frame: pd.DataFrame) -> None:
    """COPY `frame` (columns named as the table's) into `table`, as CSV written by pyarrow."""
    if frame.empty:
        return
    arrays = {}
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_datetime64_any_dtype(col):
            arrays[name] = pa.array(col.to_numpy().astype("datetime64[D]"), type=pa.date32(),
                                    mask=col.isna().to_numpy())  # fmt: skip
        else:
            arrays[name] = pa.array(col.to_numpy(dtype=object) if col.dtype == object else col)
    buf = io.BytesIO()
    pacsv.write_csv(
        pa.table(arrays),
        buf,
        write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed"),
    )
    columns = ", ".join(frame.columns)
    with (
        connection.cursor() as cur,
        cur.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy,
    ):
        view = buf.getbuffer()
        for start in range(0, len(view), 1 << 20):
            copy.write(view[start : start + (1 << 20)])


_UNCOMPARED = ("id", "organization_id", "job_id", "computed_at", "digest")


def _with_digest(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with `digest`: a 64-bit hash of each row's content (every column but
    `_UNCOMPARED`), the same for the same values whatever the frame's dtypes (numbers as
    float64, which holds every cent amount exactly, dates as days, text as str)."""
    canon: dict[str, Any] = {}
    for name in frame.columns:
        if name in _UNCOMPARED:
            continue
        col = frame[name]
        if pd.api.types.is_datetime64_any_dtype(col):
            days = col.to_numpy().astype("datetime64[D]").astype(np.int64).astype(np.float64)
            days[col.isna().to_numpy()] = np.nan
            canon[name] = days
        elif pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            canon[name] = col.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            canon[name] = col.fillna("").astype(str).to_numpy(dtype=object)
    hashed = pd.util.hash_pandas_object(pd.DataFrame(canon, index=frame.index), index=False)
    return frame.assign(digest=hashed.to_numpy().view(np.int64))


def _replace_changed(table: str, frame: pd.DataFrame, key: str, org: int) -> None:
    """Make the organization's rows of `table` equal `frame` (one row per `key`, with its
    `digest`), deleting and writing only the rows whose digest differs: a full rebuild that
    changes little writes little, and reads back only keys and digests. Which run wrote a row
    and when stay those of the run that last changed it."""
    stored = _copy_frame(
        f"SELECT {key} AS key, digest FROM {table} WHERE organization_id = {int(org)}",
        {"key": pa.int64(), "digest": pa.int64()},
    )
    if stored.empty:  # nothing to compare with: straight in
        _copy_in(table, frame)
        _analyze_if_grown(table, len(frame), len(frame))
        return
    kept = frame[[key, "digest"]].merge(
        stored.rename(columns={"key": key}), on=[key, "digest"], how="inner"
    )[key]
    out = stored.loc[~stored["key"].isin(kept), ["key"]].rename(columns={"key": "id"})
    write = frame[~frame[key].isin(kept)]
    if not out.empty:
        with connection.cursor() as cur:
            cur.execute("CREATE TEMP TABLE rs_out (id bigint PRIMARY KEY)")
        _copy_in("rs_out", out)
        with connection.cursor() as cur:
            cur.execute("ANALYZE rs_out")
            cur.execute(f"DELETE FROM {table} t USING rs_out o WHERE t.{key} = o.id")
            cur.execute("DROP TABLE rs_out")
    _copy_in(table, write)
    _analyze_if_grown(table, len(out) + len(write), len(frame))


def _analyze_if_grown(table: str, changed: int, rows: int) -> None:
    """Fresh statistics when a run rewrote much of a table: the incremental runs' plans
    (index probes from a few claims) depend on the planner knowing the table is big, and
    autovacuum may be slow to notice, or off."""
    if changed > 10_000 and changed * 10 > rows:
        with connection.cursor() as cur:
            cur.execute(f"ANALYZE {table}")


def _write(
    org_id: int,
    job: Job | None,
    results: pd.DataFrame,
    out: fast.Frames,
    payments: pd.DataFrame,
    scope: Scope | None,
) -> dict[str, int]:
    """Replace the derived rows the run rebuilt; for an incremental run, what the rows it
    deleted added up to (the totals are carried forward from them)."""
    org = int(org_id)
    replaced: dict[str, int] = {}
    with connection.cursor() as cur:
        if scope is None:
            for table in ("unmatchedpayment", "plballocation"):
                cur.execute(f"DELETE FROM reconciliation_{table} WHERE organization_id = {org}")
        else:
            replaced = _delete_scoped(cur)
    matches = _with_digest(
        out.matches.assign(organization_id=org)[["organization_id", "payment_id", "fill_id", "how"]]
    )
    if scope is None:
        _replace_changed("reconciliation_claimresult", results, "fill_id", org)
        _replace_changed("reconciliation_paymentmatch", matches, "payment_id", org)
    else:
        _copy_in("reconciliation_claimresult", results)
        _copy_in("reconciliation_paymentmatch", matches)
    job_id = pd.array([job.pk if job else None] * 1, dtype="Int64")[0]
    lost = out.unmatched.merge(payments[["payment_id", "location_id", "paid"]], on="payment_id")
    _copy_in(
        "reconciliation_unmatchedpayment",
        pd.DataFrame(
            {
                "organization_id": org,
                "location_id": lost["location_id"].astype("Int64"),
                "payment_id": lost["payment_id"],
                "paid_cents": lost["paid"],
                "reason": lost["reason"].str.slice(0, 200),
                "job_id": pd.array([job_id] * len(lost), dtype="Int64"),
            }
        ),
    )
    a = out.allocations
    _copy_in(
        "reconciliation_plballocation",
        pd.DataFrame(
            {
                "organization_id": org,
                "adjustment_id": a["adjustment_id"],
                "fill_id": a["fill_id"].astype("Int64"),
                "amount_cents": a["cents"],
                "allocated": a["allocated"],
                "job_id": pd.array([job_id] * len(a), dtype="Int64"),
            }
        ),
    )
    return replaced


_TOTALS_SQL = """
SELECT
 (SELECT coalesce(sum(p.paid_cents), 0) FROM reconciliation_claimpayment p
   JOIN reconciliation_remittance r ON r.id = p.remittance_id
   WHERE r.organization_id = %(org)s AND r.superseded_by_id IS NULL),
 (SELECT coalesce(sum(remitted_cents), 0) FROM reconciliation_claimresult
   WHERE organization_id = %(org)s),
 (SELECT count(*) FROM reconciliation_unmatchedpayment WHERE organization_id = %(org)s),
 (SELECT coalesce(sum(paid_cents), 0) FROM reconciliation_unmatchedpayment
   WHERE organization_id = %(org)s),
 (SELECT coalesce(sum(a.amount_cents), 0) FROM reconciliation_provideradjustment a
   JOIN reconciliation_remittance r ON r.id = a.remittance_id
   WHERE r.organization_id = %(org)s AND r.superseded_by_id IS NULL)
"""
# PLB placements added up as tied, allocated, carried (no claim) and unplaced
_PLB_PARTS = """
SELECT coalesce(sum(amount_cents) FILTER (WHERE fill_id IS NOT NULL AND NOT allocated), 0),
       coalesce(sum(amount_cents) FILTER (WHERE fill_id IS NOT NULL AND allocated), 0),
       coalesce(sum(amount_cents) FILTER (WHERE fill_id IS NULL AND NOT allocated), 0),
       coalesce(sum(amount_cents) FILTER (WHERE fill_id IS NULL AND allocated), 0)
"""
_PLB_PARTS_SQL = _PLB_PARTS + "FROM reconciliation_plballocation WHERE organization_id = %(org)s"


def _totals(org_id: int) -> dict[str, int]:
    """The organization's derived rows in figures, after the run wrote its part."""
    params = {"org": int(org_id)}
    with connection.cursor() as cur:
        cur.execute(_TOTALS_SQL, params)
        remitted, matched, n_unmatched, unmatched, plb = (int(v) for v in cur.fetchone())
        cur.execute(_PLB_PARTS_SQL, params)
        tied, allocated, carried, unplaced = (int(v) for v in cur.fetchone())
        cur.execute(
            "SELECT status, count(*) FROM reconciliation_claimresult "
            "WHERE organization_id = %(org)s GROUP BY status ORDER BY status",
            params,
        )
        statuses = {f"status_{s}": int(n) for s, n in cur.fetchall()}
        cur.execute(_UNMATCHED_FEES_SQL, params)
        fee_lines, fee_cents = cur.fetchone()
    return {
        **statuses,
        "results": sum(statuses.values()),
        "remitted_cents": remitted,
        "matched_cents": matched,
        "unmatched_payments": n_unmatched,
        "unmatched_cents": unmatched,
        "plb_cents": plb,
        "plb_tied_cents": tied,
        "plb_allocated_cents": allocated,
        "plb_carried_cents": carried,
        "plb_unplaced_cents": unplaced,
        "fee_lines_unmatched": int(fee_lines),
        "fee_unmatched_cents": int(fee_cents),
    }


_DELTA_KEYS = (
    "results", "matched_cents", "unmatched_payments", "unmatched_cents", "plb_tied_cents",
    "plb_allocated_cents", "plb_carried_cents", "plb_unplaced_cents",
)  # fmt: skip


def _delete_scoped(cur: Any) -> dict[str, int]:
    """Delete the rows an incremental run replaces, and add up what they held (in the same
    statements: RETURNING, no second read of them)."""
    out: dict[str, int] = {}
    cur.execute(
        "WITH d AS (DELETE FROM reconciliation_claimresult WHERE fill_id IN "
        "(SELECT id FROM rs_c2) RETURNING status, remitted_cents) "
        "SELECT status, count(*), coalesce(sum(remitted_cents), 0) FROM d GROUP BY status"
    )
    for status, n, remitted in cur.fetchall():
        out[f"status_{status}"] = int(n)
        out["results"] = out.get("results", 0) + int(n)
        out["matched_cents"] = out.get("matched_cents", 0) + int(remitted)
    replaced_payments = "(SELECT id FROM rs_pay UNION ALL SELECT id FROM rs_gone_pay)"
    cur.execute(f"DELETE FROM reconciliation_paymentmatch WHERE payment_id IN {replaced_payments}")
    cur.execute(
        "WITH d AS (DELETE FROM reconciliation_unmatchedpayment WHERE payment_id IN "
        f"{replaced_payments} RETURNING paid_cents) "
        "SELECT count(*), coalesce(sum(paid_cents), 0) FROM d"
    )
    n, paid = cur.fetchone()
    out["unmatched_payments"], out["unmatched_cents"] = int(n), int(paid)
    cur.execute(
        "WITH d AS (DELETE FROM reconciliation_plballocation WHERE adjustment_id IN ("
        "SELECT a.id FROM reconciliation_provideradjustment a JOIN rs_remit x "
        "ON x.id = a.remittance_id UNION ALL SELECT id FROM rs_gone_plb) "
        "RETURNING fill_id, allocated, amount_cents) " + _PLB_PARTS + "FROM d"
    )
    parts = ("plb_tied_cents", "plb_allocated_cents", "plb_carried_cents", "plb_unplaced_cents")
    out.update(zip(parts, (int(v) for v in cur.fetchone()), strict=True))
    return out


def _totals_after(
    org_id: int,
    last: Mapping[str, int],
    before: Mapping[str, int],
    results: pd.DataFrame,
    out: fast.Frames,
    payments: pd.DataFrame,
) -> dict[str, int]:
    """The organization's figures after an incremental run: the last run's, less the rows
    replaced, plus the rows written; what was paid and the PLB total counted afresh (the
    balance check compares the two)."""
    lost = payments[payments["payment_id"].isin(out.unmatched["payment_id"])]
    a = out.allocations
    on_claim = a["fill_id"].notna()
    added = {
        "results": len(results),
        "matched_cents": int(results["remitted_cents"].sum()),
        "unmatched_payments": len(out.unmatched),
        "unmatched_cents": int(lost["paid"].sum()),
        "plb_tied_cents": int(a.loc[on_claim & ~a["allocated"], "cents"].sum()),
        "plb_allocated_cents": int(a.loc[on_claim & a["allocated"], "cents"].sum()),
        "plb_carried_cents": int(a.loc[~on_claim & ~a["allocated"], "cents"].sum()),
        "plb_unplaced_cents": int(a.loc[~on_claim & a["allocated"], "cents"].sum()),
    }
    for status, n in results["status"].value_counts().items():
        added[f"status_{status}"] = int(n)
    keys = set(_DELTA_KEYS) | {k for k in (*last, *added) if k.startswith("status_")}
    totals = {k: int(last.get(k, 0)) - int(before.get(k, 0)) + added.get(k, 0) for k in keys}
    totals = {k: v for k, v in totals.items() if v or not k.startswith("status_")}
    totals["fee_lines_unmatched"] = int(last.get("fee_lines_unmatched", 0))
    totals["fee_unmatched_cents"] = int(last.get("fee_unmatched_cents", 0))
    with connection.cursor() as cur:
        _planner_reset(cur)  # whole-organization sums from here
        cur.execute(_PAID_SQL, {"org": int(org_id)})
        totals["remitted_cents"], totals["plb_cents"] = (int(v) for v in cur.fetchone())
    return dict(sorted(totals.items()))


# what the current remittances paid (CLP04) and adjusted (PLB), from the totals each carries:
# written with its payments and PLB rows in the import's transaction (the sums of exactly
# those rows, held equal by a test), and never changed after; a remittance is replaced, not
# edited. Summing the rows instead reads every payment of the organization (0.15 s at 1M).
_PAID_SQL = """
SELECT coalesce(sum(claim_paid_cents), 0), coalesce(sum(provider_adjustment_cents), 0)
FROM reconciliation_remittance
WHERE organization_id = %(org)s AND superseded_by_id IS NULL
"""


def _fee_lines_unmatched(org_id: int) -> dict[str, int]:
    with connection.cursor() as cur:
        cur.execute(_UNMATCHED_FEES_SQL, {"org": int(org_id)})
        lines, cents = cur.fetchone()
    return {"fee_lines_unmatched": int(lines), "fee_unmatched_cents": int(cents)}


def _check_totals(counts: Mapping[str, int]) -> None:
    """The whole organization still balances after the run (JobFailed rolls it back)."""
    if counts["remitted_cents"] != counts["matched_cents"] + counts["unmatched_cents"]:
        raise JobFailed(
            f"The run does not balance: {counts['remitted_cents']} cents paid on claims != "
            f"{counts['matched_cents']} matched + {counts['unmatched_cents']} unmatched. "
            "Nothing was written."
        )
    parts = ("plb_tied_cents", "plb_allocated_cents", "plb_carried_cents", "plb_unplaced_cents")
    if counts["plb_cents"] != sum(counts[k] for k in parts):
        raise JobFailed(
            f"The run does not balance: {counts['plb_cents']} cents of PLB != "
            f"{sum(counts[k] for k in parts)} placed. Nothing was written."
        )
