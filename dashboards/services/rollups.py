"""Margin rollups: `MarginDaily` rebuilt from the reconciliation results.

The rows are derived (STYLE: facts vs derived state): a refresh replaces an organization's
rows, all of them or those of some days, by one DELETE and one INSERT ... SELECT ... GROUP BY
in one transaction, so a reader sees the rows before or after it, never half of it. Every
figure comes from the run's per-claim columns (`reconciliation.ClaimResult`): net margin is
the run's `net_margin_cents`, never computed a second way here.

A refresh is a job (`margin_rollups`, on the `analytics` queue): queued after each
successful reconciliation run (`dashboards.signals`) and nightly by beat. After an
incremental run only the days of the results that run wrote are refreshed (an incremental
run writes every result it rebuilds with its job id, and rebuilds the results of every
claim an import changed); after a full run (which keeps the job id of results it found
unchanged, and follows a change of contracts), and nightly (drug classes from new value
sets), everything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from django.db import connection, transaction

from adherence import measures
from claims.models import Drug
from dashboards.rollup_cache import rollup_generation_advance
from reconciliation.services.runs import JOB_KIND as RECONCILE_JOB_KIND
from reconciliation.services.runs import contract_terms
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

JOB_KIND = "margin_rollups"
# pg advisory-lock namespace for refreshes (two-int form: namespace, organization): two
# refreshes of one organization would each delete what the other had not yet inserted
_LOCK_NAMESPACE = 7401

# the group of a claim: each (plan, day) pair's contract type and each drug's class are
# decided in Python by the rules that own them, and joined in as temp tables
_TEMP_TABLES = (
    "CREATE TEMP TABLE dash_contract (plan_id bigint, day date, contract_type text NOT NULL, "
    "PRIMARY KEY (plan_id, day)) ON COMMIT DROP",
    "CREATE TEMP TABLE dash_drug_class (drug_id bigint PRIMARY KEY, drug_class text NOT NULL) "
    "ON COMMIT DROP",
)
_PLAN_DAYS_SQL = """
SELECT DISTINCT f.plan_id, r.date_of_service
FROM reconciliation_claimresult r JOIN claims_fill f ON f.id = r.fill_id
WHERE r.organization_id = %(org)s AND f.plan_id IS NOT NULL {days}
"""
_DELETE_SQL = (
    "DELETE FROM dashboards_margindaily WHERE organization_id = %(org)s {days};"
    "DELETE FROM dashboards_belowcostdaily WHERE organization_id = %(org)s {days};"
    "DELETE FROM dashboards_marginstoredaily WHERE organization_id = %(org)s {days}"
)
# the per store, day and plan sums, from the rows just written
_STORE_DAILY_SQL = """
INSERT INTO dashboards_marginstoredaily (
  organization_id, location_id, day, plan_id,
  claims, generic_claims, revenue_cents, plan_paid_cents, acquisition_cents,
  fees_actual_cents, fees_estimated_cents, dir_cents, net_margin_cents, below_cost_claims,
  below_cost_cents, remitted_cents, unreconciled_0_30_cents, unreconciled_31_60_cents,
  unreconciled_61_90_cents, unreconciled_90_plus_cents)
SELECT organization_id, location_id, day, plan_id,
  sum(claims), sum(generic_claims), sum(revenue_cents), sum(plan_paid_cents),
  sum(acquisition_cents), sum(fees_actual_cents), sum(fees_estimated_cents), sum(dir_cents),
  sum(net_margin_cents), sum(below_cost_claims), sum(below_cost_cents), sum(remitted_cents),
  sum(unreconciled_0_30_cents), sum(unreconciled_31_60_cents), sum(unreconciled_61_90_cents),
  sum(unreconciled_90_plus_cents)
FROM dashboards_margindaily WHERE organization_id = %(org)s {days}
GROUP BY organization_id, location_id, day, plan_id
"""
# below-cost dispensed scripts per store, day and drug (the flag and shortfall as above)
_BELOW_COST_SQL = """
INSERT INTO dashboards_belowcostdaily
  (organization_id, location_id, day, drug_id, claims, shortfall_cents)
SELECT r.organization_id, r.location_id, r.date_of_service, f.drug_id, count(*),
       sum(r.acquisition_cents - r.expected_cents - f.patient_pay_cents)
FROM reconciliation_claimresult r JOIN claims_fill f ON f.id = r.fill_id
WHERE r.organization_id = %(org)s AND r.below_cost
  AND r.status NOT IN ('reversal', 'reversed') {days}
GROUP BY r.organization_id, r.location_id, r.date_of_service, f.drug_id
"""

# one row per claim result (`c`), then summed per group; the column meanings are on the
# model. Void: a reversal transaction (status reversal, i.e. B2) or a claim reversed in the
# PMS: the run gives it no cost and no margin. Third-party: not void and not cash (the run
# subtracts fees only from those). A claim's fees are the statement's once a line arrived
# (matched as the run matches them: store, Rx, fill, date of service, transaction code),
# else the contract's estimate.
_INSERT_SQL = """
INSERT INTO dashboards_margindaily (
  organization_id, location_id, day, plan_id, drug_class, brand, contract_type,
  claims, generic_claims, revenue_cents, plan_paid_cents, acquisition_cents,
  fees_actual_cents, fees_estimated_cents, dir_cents, net_margin_cents,
  below_cost_claims, below_cost_cents, remitted_cents,
  unreconciled_0_30_cents, unreconciled_31_60_cents, unreconciled_61_90_cents,
  unreconciled_90_plus_cents)
WITH c AS (
  SELECT r.organization_id, r.location_id, r.date_of_service AS day, f.plan_id,
         coalesce(k.drug_class, '') AS drug_class, coalesce(d.is_brand, false) AS brand,
         CASE WHEN r.status = 'cash' THEN '' ELSE coalesce(t.contract_type, '') END
           AS contract_type,
         r.status NOT IN ('reversal', 'reversed') AS dispensed,
         r.status NOT IN ('reversal', 'reversed', 'cash') AS third_party,
         r.expected_cents AS plan_paid, f.patient_pay_cents AS patient, r.acquisition_cents,
         r.fees_actual_cents, r.fees_estimated_cents, r.dir_cents, r.net_margin_cents,
         r.below_cost, r.remitted_cents, r.age_bucket,
         l.location_id IS NOT NULL AS fees_stated
  FROM reconciliation_claimresult r
  JOIN claims_fill f ON f.id = r.fill_id
  -- the claims a statement line has arrived for: one hash join, not a probe per claim
  LEFT JOIN (
    SELECT DISTINCT location_id, rx_number, fill_number, date_of_service, transaction_code
    FROM reconciliation_feeline WHERE organization_id = %(org)s {fee_days}
  ) l ON l.location_id = f.location_id AND l.rx_number = f.rx_number
     AND l.fill_number = f.fill_number AND l.date_of_service = f.date_of_service
     AND l.transaction_code = f.transaction_code
  LEFT JOIN claims_drug d ON d.id = f.drug_id
  LEFT JOIN dash_drug_class k ON k.drug_id = f.drug_id
  LEFT JOIN dash_contract t ON t.plan_id = f.plan_id AND t.day = r.date_of_service
  WHERE r.organization_id = %(org)s {days}
)
SELECT organization_id, location_id, day, plan_id, drug_class, brand, contract_type,
  count(*) FILTER (WHERE dispensed),
  count(*) FILTER (WHERE dispensed AND NOT brand),
  coalesce(sum(plan_paid + patient) FILTER (WHERE dispensed), 0),
  coalesce(sum(plan_paid) FILTER (WHERE third_party), 0),
  sum(acquisition_cents),
  coalesce(sum(fees_actual_cents) FILTER (WHERE third_party AND fees_stated), 0),
  coalesce(sum(fees_estimated_cents) FILTER (WHERE third_party AND NOT fees_stated), 0),
  sum(dir_cents),
  sum(net_margin_cents),
  count(*) FILTER (WHERE below_cost),
  coalesce(sum(acquisition_cents - plan_paid - patient) FILTER (WHERE below_cost), 0),
  sum(remitted_cents),
  coalesce(sum(plan_paid - remitted_cents - dir_cents) FILTER (WHERE age_bucket = '0-30'), 0),
  coalesce(sum(plan_paid - remitted_cents - dir_cents) FILTER (WHERE age_bucket = '31-60'), 0),
  coalesce(sum(plan_paid - remitted_cents - dir_cents) FILTER (WHERE age_bucket = '61-90'), 0),
  coalesce(sum(plan_paid - remitted_cents - dir_cents) FILTER (WHERE age_bucket = '90+'), 0)
FROM c
GROUP BY organization_id, location_id, day, plan_id, drug_class, brand, contract_type
"""


def drug_classes() -> dict[str, str]:
    """NDC -> drug class, from the PQA value sets (`DR`, `INSULIN`, `RASA`, `SACVAL`, `STA`),
    the latest measurement year's list first; NDCs in no class are left out ("other")."""
    classes: dict[str, str] = {}
    for year in measures.available_years():  # oldest first: a later year's class wins
        for ndc, drug in measures.measure_year(year).drugs.items():
            if drug.drug_class:
                classes[ndc] = drug.drug_class
    return classes


def rollups_refresh(
    *, organization: Organization, days: Iterable[date] | None = None
) -> dict[str, int]:
    """Rebuild the organization's margin rollups: every day (`days=None`), or only `days`.
    Returns the counts: rows written, days asked for (0: all), milliseconds taken.

    Drug class: the drug's own `adherence_class` when set, else its PQA value-set class.
    Contract type: that of the payer contract in effect for the claim's plan on its date of
    service, as the reconciliation run picks it (`reconciliation.services.runs.
    contract_terms`); "" for cash claims and plans no contract covers.

    One refresh of an organization at a time (a session advisory lock; a second waits),
    reading one snapshot (REPEATABLE READ) and writing in the same transaction.
    """
    started = time.monotonic()
    org = int(organization.pk)
    day_list = None if days is None else sorted(set(days))
    if day_list is not None and not day_list:
        return {"rows": 0, "days": 0, "ms": 0}
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, org])
    try:
        outermost = not connection.in_atomic_block  # inside a caller's transaction: its snapshot
        with transaction.atomic(), connection.cursor() as cur:
            if outermost:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                # a whole organization's groups hash in memory instead of sorting on disk
                cur.execute("SET LOCAL work_mem = '256MB'")
            rows = _refresh(cur, org, day_list)
            rollup_generation_advance(org)  # once committed: the kept answers are stale
    finally:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_NAMESPACE, org])
    return {
        "rows": rows,
        "days": len(day_list or ()),
        "ms": int((time.monotonic() - started) * 1000),
    }


def _refresh(cur: Any, org: int, days: list[date] | None) -> int:
    params: dict[str, Any] = {"org": org}
    on_days = ""
    if days is not None:
        params["days"] = days
        on_days = "AND r.date_of_service = ANY(%(days)s)"
    # dropped at the end too: inside a caller's transaction, ON COMMIT comes later
    cur.execute("DROP TABLE IF EXISTS dash_contract, dash_drug_class")
    for sql in _TEMP_TABLES:
        cur.execute(sql)
    # contract type per (plan, date of service) pair the claims have
    cur.execute(_PLAN_DAYS_SQL.format(days=on_days), params)
    pairs = cur.fetchall()
    lookup = contract_terms(org)
    with cur.copy("COPY dash_contract (plan_id, day, contract_type) FROM STDIN") as copy:
        for plan_id, day in pairs:
            contract = lookup(int(plan_id), day)[0]
            copy.write_row((plan_id, day, contract.contract_type if contract else ""))
    by_ndc = drug_classes()
    drugs = list(Drug.objects.values_list("pk", "ndc", "adherence_class"))  # not during a COPY
    with cur.copy("COPY dash_drug_class (drug_id, drug_class) FROM STDIN") as copy:
        for drug_id, ndc, own in drugs:
            drug_class = own or by_ndc.get(ndc, "")
            if drug_class:
                copy.write_row((drug_id, drug_class))
    cur.execute("ANALYZE dash_contract, dash_drug_class")
    cur.execute(
        _DELETE_SQL.format(days="AND day = ANY(%(days)s)" if days is not None else ""), params
    )
    fee_days = "AND date_of_service = ANY(%(days)s)" if days is not None else ""
    cur.execute(_INSERT_SQL.format(days=on_days, fee_days=fee_days), params)
    rows = int(cur.rowcount)
    cur.execute(_BELOW_COST_SQL.format(days=on_days), params)
    cur.execute(
        _STORE_DAILY_SQL.format(days="AND day = ANY(%(days)s)" if days is not None else ""),
        params,
    )
    cur.execute("DROP TABLE dash_contract, dash_drug_class")
    return rows


# --- the job ---------------------------------------------------------------------------------


def days_written_by(*, organization: Organization, run_ids: Iterable[int]) -> list[date]:
    """The dates of service of the results the given reconciliation runs wrote (and no later
    run has written since)."""
    ids = sorted({int(i) for i in run_ids})
    if not ids:
        return []
    with connection.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT date_of_service FROM reconciliation_claimresult "
            "WHERE organization_id = %s AND job_id = ANY(%s) ORDER BY 1",
            [organization.pk, ids],
        )
        return [row[0] for row in cur.fetchall()]


def rollups_request(
    *, organization: Organization, run: Job | None = None, created_by: Any = None
) -> Job:
    """Queue a refresh after the reconciliation `run` (only the days it wrote, when it was
    incremental), or of everything (`run=None`). A refresh already waiting for the
    organization takes this one in instead: its runs grow, or it becomes a full one."""
    full = run is None or not (run.counts or {}).get("incremental")
    runs = [] if full or run is None else [run.pk]
    with job_request_lock(organization=organization):
        waiting = (
            Job.objects.filter(organization=organization, kind=JOB_KIND, status=Job.Status.QUEUED)
            .order_by("pk")
            .first()
        )
        if waiting is not None:
            merged: dict[str, Any] = dict(waiting.params)
            if full or merged.get("full"):
                merged = {"full": True}
            else:
                merged["runs"] = sorted({*merged.get("runs", []), *runs})
            # only while still waiting: a worker may have claimed it since
            if Job.objects.filter(pk=waiting.pk, status=Job.Status.QUEUED).update(params=merged):
                waiting.params = merged
                return waiting
        return _job(organization, {"full": True} if full else {"runs": runs}, created_by, True)


def rollups_refresh_now(*, organization: Organization, run: Job | None = None) -> Job:
    """Refresh in this process as a job (the demo seed, tests): same handler and job row."""
    full = run is None or not (run.counts or {}).get("incremental")
    params: dict[str, Any] = {"full": True} if full else {"runs": [run.pk] if run else []}
    job = _job(organization, params, None, False)
    job_execute(job_id=job.pk)
    job.refresh_from_db()
    return job


def _job(
    organization: Organization, params: Mapping[str, Any], created_by: Any, enqueue: bool
) -> Job:
    return job_create(
        organization=organization,
        kind=JOB_KIND,
        params=params,
        label="Margin rollups" + (" (full refresh)" if params.get("full") else ""),
        created_by=created_by,
        enqueue=enqueue,
    )


@job_handler(JOB_KIND, queue="analytics")
def _run(job: Job, progress: Progress) -> Mapping[str, Any]:
    params = job.params or {}
    if params.get("full"):
        counts = rollups_refresh(organization=job.organization)
    else:
        try:
            runs = [int(r) for r in params.get("runs", [])]
        except (TypeError, ValueError):
            raise JobFailed("The job names no valid reconciliation runs.") from None
        days = days_written_by(organization=job.organization, run_ids=runs)
        counts = rollups_refresh(organization=job.organization, days=days)
    job.message = (
        f"{counts['rows']:,} rollup rows written "
        + (f"for {counts['days']:,} day(s)" if not params.get("full") else "(full refresh)")
        + f" in {counts['ms']:,} ms."
    )
    job.save(update_fields=["message"])
    return counts


def is_reconcile_run(job: Job) -> bool:
    return job.kind == RECONCILE_JOB_KIND
