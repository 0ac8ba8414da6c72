"""Reconciliation runs: load an organization's claims, 835 payments and PLB amounts, call the
pure engine (`reconciliation.engine.matching`), and replace the derived rows — per-claim
results, unmatched payments, PLB allocations — in one transaction.

A run is a job (`reconcile`, on the `recon` queue): queued after an import that changed
claims or remittances, nightly by beat, by `manage.py reconcile`, or in-process. Rerunning it
on the same facts gives the same rows, so a crashed worker's retry ends where an
uninterrupted run would have.
"""

from __future__ import annotations

import io
import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from claims.models import Fill, Plan
from reconciliation.contract_selectors import contracts_in_effect
from reconciliation.engine import contracts as core
from reconciliation.engine import fast, matching
from reconciliation.models import (
    Adjustment,
    ClaimPayment,
    ClaimResult,
    PaymentMatch,
    PlbAllocation,
    ProviderAdjustment,
    Remittance,
    UnmatchedPayment,
)
from rxrevops.models import Job, Organization
from rxrevops.services.jobs import JobFailed, Progress, job_create, job_execute, job_handler

JOB_KIND = "reconcile"
AGE_BUCKETS = ((30, "0-30"), (60, "31-60"), (90, "61-90"))

# (plan id, date of service) -> (the payer contract version in effect for the plan that day,
# due date, last day still pending)
TermsLookup = Callable[[int | None, date], tuple[core.ContractTerms | None, date, date]]


def reconcile_request(*, organization: Organization, created_by: Any = None) -> Job:
    """Queue a run, unless one for the organization is already waiting."""
    waiting = Job.objects.filter(
        organization=organization, kind=JOB_KIND, status=Job.Status.QUEUED
    ).first()
    if waiting is not None:
        return waiting
    return _job(organization, timezone.localdate(), created_by=created_by, enqueue=True)


def reconcile_now(*, organization: Organization, as_of: date) -> Job:
    """Run in this process as a job (the command, the demo seed, tests)."""
    job = _job(organization, as_of, created_by=None, enqueue=False)
    job_execute(job_id=job.pk)
    job.refresh_from_db()
    return job


def _job(organization: Organization, as_of: date, *, created_by: Any, enqueue: bool) -> Job:
    return job_create(
        organization=organization,
        kind=JOB_KIND,
        params={"as_of": as_of.isoformat()},
        label=f"Reconciliation as of {as_of:%b %-d, %Y}",
        created_by=created_by,
        enqueue=enqueue,
    )


@job_handler(JOB_KIND, queue="recon")
def _run(job: Job, progress: Progress) -> Mapping[str, Any]:
    try:
        as_of = date.fromisoformat(job.params["as_of"])
    except (KeyError, TypeError, ValueError):
        raise JobFailed("The job has no valid as_of date.") from None
    counts = reconcile_organization(
        organization=job.organization, as_of=as_of, job=job, progress=progress
    )
    job.message = _summary(counts)
    job.save(update_fields=["message"])
    return counts


def _summary(counts: Mapping[str, int]) -> str:
    open_items = sum(
        counts.get(f"status_{s}", 0)
        for s in ("short_paid", "unpaid", "overpaid", "reversed_but_paid", "recouped")
    )
    return (
        f"{counts['claims']:,} claims reconciled: {open_items:,} exceptions, "
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


# pg advisory-lock namespace for reconciliation runs (two-int form: namespace, organization)
_LOCK_NAMESPACE = 7202


def reconcile_organization(
    *,
    organization: Organization,
    as_of: date,
    job: Job | None = None,
    terms: TermsLookup | None = None,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Rebuild every claim result of `organization` as of `as_of`; returns the run's counts.

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
            terms = terms or contract_terms(organization.pk)
            claims, extra = _load_claims(organization.pk, terms)
            if progress is not None:
                progress.set_total(len(claims))
            payments, payment_store = _load_payments(organization.pk)
            adjustments = _load_plb(organization.pk)
            # the set-based path; a property test holds it equal to the reference path
            outcome = fast.reconcile(claims, payments, adjustments, as_of=as_of)
            balance = _balance(payments, adjustments, outcome)
            balance["fee_lines_unmatched"], balance["fee_unmatched_cents"] = _fees_unmatched(
                organization.pk
            )
            counts = _write(
                organization=organization,
                as_of=as_of,
                job=job,
                claims=claims,
                extra=extra,
                fees_actual=_fees_actual(organization.pk),
                costs=_costs(organization.pk),
                outcome=outcome,
                payment_store=payment_store,
                paid_of={p.payment_id: p.paid_cents for p in payments},
            )
    finally:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_NAMESPACE, organization.pk])
    counts.update(balance, claims=len(claims))
    if progress is not None:
        progress.advance(len(claims))
    return counts


def _balance(
    payments: list[matching.Payment],
    adjustments: list[matching.ProviderAdjustment],
    outcome: matching.Outcome,
) -> dict[str, int]:
    """The run's totals, refused (JobFailed, nothing written) when they do not add up."""
    paid_of = {p.payment_id: p.paid_cents for p in payments}
    total = sum(paid_of.values())
    matched = sum(r.remitted_cents for r in outcome.results)
    unmatched = sum(paid_of[u.payment_id] for u in outcome.unmatched)
    plb = sum(a.amount_cents for a in adjustments)
    placed = sum(a.amount_cents for a in outcome.allocations)
    if total != matched + unmatched:
        raise JobFailed(
            f"The run does not balance: {total} cents paid on claims != {matched} matched + "
            f"{unmatched} unmatched. Nothing was written."
        )
    if plb != placed:
        raise JobFailed(
            f"The run does not balance: {plb} cents of PLB != {placed} placed. Nothing was written."
        )
    return {"remitted_cents": total, "matched_cents": matched, "plb_cents": plb}


@dataclass(frozen=True, slots=True)
class ClaimFacts:
    """What a claim's result row needs besides the engine's view of it."""

    location_id: int
    patient_pay_cents: int
    acquisition_cents: int
    due_on: date
    fees_estimated_cents: int


def _load_claims(
    org_id: int, terms: TermsLookup
) -> tuple[list[matching.Claim], dict[int, ClaimFacts]]:
    """The organization's claims as engine rows, and per fill what the result row needs
    besides. Fees are estimated from the contract's fee terms for every plan claim."""
    rows = Fill.objects.filter(location__organization_id=org_id).values_list(
        "pk",
        "location_id",
        "rx_number",
        "fill_number",
        "date_of_service",
        "transaction_code",
        "status",
        "plan_id",
        "authorization_number",
        "total_paid_cents",
        "patient_pay_cents",
        "acquisition_cost_cents",
        "ingredient_cost_paid_cents",
        "dispensing_fee_paid_cents",
        "usual_customary_cents",
        "quantity",
        "drug__is_brand",
    )
    claims, extra = [], {}
    for (
        pk, loc, rx, fill, dos, tx, status, plan, auth, paid, patient, acq, ingredient,
        fee, uc, qty, brand,
    ) in rows.iterator(chunk_size=20000):  # fmt: skip
        contract, due, last_pending = terms(plan, dos)
        has_plan = plan is not None and status != Fill.Status.CASH
        estimated = 0
        if contract is not None and has_plan and tx != "B2":
            estimated = core.estimated_fees_cents(
                core.ClaimFacts(
                    date_of_service=dos,
                    is_brand=bool(brand),
                    quantity=qty,
                    ingredient_cost_paid_cents=ingredient,
                    dispensing_fee_paid_cents=fee,
                    patient_pay_cents=patient,
                    total_paid_cents=paid,
                    usual_customary_cents=uc,
                ),
                contract,
            )
        claims.append(
            matching.Claim(
                fill_id=pk,
                location_id=loc,
                rx_number=rx,
                fill_number=fill,
                date_of_service=dos,
                transaction_code=tx,
                reversed=status == Fill.Status.REVERSED,
                has_plan=has_plan,
                authorization=auth or "",
                expected_cents=paid,
                due_on=last_pending,
            )
        )
        extra[pk] = ClaimFacts(loc, patient, acq, due, estimated)
    return claims, extra


_FEES_SQL = """
SELECT f.id, sum(l.amount_cents)
FROM reconciliation_feeline l
JOIN claims_fill f ON f.location_id = l.location_id AND f.rx_number = l.rx_number
 AND f.fill_number = l.fill_number AND f.date_of_service = l.date_of_service
 AND f.transaction_code = l.transaction_code
WHERE l.organization_id = %(org)s
GROUP BY f.id
"""
# the store's latest invoice price of the NDC on or before the date of service, else the
# NADAC in effect that day; x quantity, half-up to the cent
_COSTS_SQL = """
SELECT f.id,
       round(inv.unit_cost * f.quantity * 100)::bigint,
       round(nadac.per_unit * f.quantity * 100)::bigint
FROM claims_fill f
JOIN rxrevops_location loc ON loc.id = f.location_id
JOIN claims_drug d ON d.id = f.drug_id
LEFT JOIN LATERAL (
  SELECT a.unit_cost FROM reconciliation_acquisitioncost a
  WHERE a.location_id = f.location_id AND a.ndc = d.ndc AND a.invoice_date <= f.date_of_service
  ORDER BY a.invoice_date DESC, a.id DESC LIMIT 1) inv ON true
LEFT JOIN LATERAL (
  SELECT n.per_unit FROM reconciliation_nadacprice n
  WHERE n.organization_id = loc.organization_id AND n.ndc = d.ndc
    AND n.effective_date <= f.date_of_service
  ORDER BY n.effective_date DESC LIMIT 1) nadac ON true
WHERE loc.organization_id = %(org)s
  AND (inv.unit_cost IS NOT NULL OR nadac.per_unit IS NOT NULL)
"""


_UNMATCHED_FEES_SQL = """
SELECT count(*), coalesce(sum(l.amount_cents), 0)
FROM reconciliation_feeline l
WHERE l.organization_id = %(org)s AND NOT EXISTS (
  SELECT 1 FROM claims_fill f WHERE f.location_id = l.location_id
   AND f.rx_number = l.rx_number AND f.fill_number = l.fill_number
   AND f.date_of_service = l.date_of_service AND f.transaction_code = l.transaction_code)
"""


def _fees_actual(org_id: int) -> dict[int, int]:
    with connection.cursor() as cur:
        cur.execute(_FEES_SQL, {"org": org_id})
        return {fill: int(cents) for fill, cents in cur.fetchall()}


def _fees_unmatched(org_id: int) -> tuple[int, int]:
    """Fee-statement lines for claims the PMS never sent: (lines, cents), reported on the run
    (they are kept; they count once their claim arrives)."""
    with connection.cursor() as cur:
        cur.execute(_UNMATCHED_FEES_SQL, {"org": org_id})
        lines, cents = cur.fetchone()
        return int(lines), int(cents)


def _costs(org_id: int) -> dict[int, tuple[int, str]]:
    """{fill id: (acquisition cents, "invoice" | "nadac")} where a cost file knows it."""
    with connection.cursor() as cur:
        cur.execute(_COSTS_SQL, {"org": org_id})
        return {
            fill: (inv, "invoice") if inv is not None else (nadac, "nadac")
            for fill, inv, nadac in cur.fetchall()
        }


def _load_payments(org_id: int) -> tuple[list[matching.Payment], dict[int, int | None]]:
    """The claim payments of the organization's current remittances (a re-sent remittance
    replaces the one it supersedes) with their CAS adjustments."""
    current = Remittance.objects.filter(organization_id=org_id, superseded_by__isnull=True)
    cas: dict[int, list[tuple[str, str, int]]] = defaultdict(list)
    for claim_id, group, reason, cents in Adjustment.objects.filter(
        claim__remittance__in=current
    ).values_list("claim_id", "group", "reason", "amount_cents"):
        cas[claim_id].append((group, reason, cents))
    payments: list[matching.Payment] = []
    store: dict[int, int | None] = {}
    for pk, remit, loc, ref, status, paid, ctrl, day in (
        ClaimPayment.objects.filter(remittance__in=current)
        .values_list(
            "pk",
            "remittance_id",
            "location_id",
            "claim_ref",
            "status",
            "paid_cents",
            "payer_claim_control",
            "service_date",
        )
        .iterator(chunk_size=20000)
    ):
        payments.append(
            matching.Payment(
                payment_id=pk,
                remittance_id=remit,
                location_id=loc,
                claim_ref=ref,
                payer_claim_control=ctrl,
                status=status,
                paid_cents=paid or 0,
                service_date=day,
                adjustments=tuple(cas.get(pk, ())),
            )
        )
        store[pk] = loc
    return payments, store


def _load_plb(org_id: int) -> list[matching.ProviderAdjustment]:
    rows = ProviderAdjustment.objects.filter(
        remittance__organization_id=org_id, remittance__superseded_by__isnull=True
    ).values_list("pk", "remittance_id", "reason", "reference", "amount_cents")
    return [
        matching.ProviderAdjustment(
            adjustment_id=pk,
            remittance_id=remit,
            reason=reason,
            reference=ref,
            amount_cents=cents,
        )
        for pk, remit, reason, ref, cents in rows
    ]


def age_bucket(as_of: date, date_of_service: date) -> str:
    days = (as_of - date_of_service).days
    for limit, name in AGE_BUCKETS:
        if days <= limit:
            return name
    return "90+"


def _write(
    *,
    organization: Organization,
    as_of: date,
    job: Job | None,
    claims: list[matching.Claim],
    extra: dict[int, ClaimFacts],
    fees_actual: dict[int, int],
    costs: dict[int, tuple[int, str]],
    outcome: matching.Outcome,
    payment_store: dict[int, int | None],
    paid_of: dict[int, int],
) -> dict[str, int]:
    now = timezone.now()
    by_fill = {c.fill_id: c for c in claims}
    statuses: dict[str, int] = defaultdict(int)
    buf = io.StringIO()
    for r in outcome.results:
        c = by_fill[r.fill_id]
        x = extra[r.fill_id]
        statuses[r.status] += 1
        acquisition, source = costs.get(r.fill_id, (x.acquisition_cents, "pms"))
        actual = fees_actual.get(r.fill_id)
        # fees: the statement's lines once they arrived for the claim, else the estimate
        fees = actual if actual is not None else x.fees_estimated_cents
        # what the script earned: money received (promised, while not yet due) + patient pay
        plan_money = c.expected_cents if r.status == "pending" else r.variance_cents
        earned = (
            plan_money + x.patient_pay_cents - r.allocated_cents - fees
            if c.has_plan
            else x.patient_pay_cents
        )
        if c.transaction_code == "B2" or r.status == "reversed":
            # not dispensed (or the reversal itself): no cost, no fees, nothing earned
            earned, acquisition, source, fees = 0, 0, "", 0
        open_item = r.status in ("pending", "unpaid", "short_paid")
        fields = (
            organization.pk,
            x.location_id,
            r.fill_id,
            c.date_of_service.isoformat(),
            r.status,
            r.matched_by,
            r.payments,
            c.expected_cents,
            r.remitted_cents,
            r.recouped_cents,
            r.dir_cents,
            r.variance_cents - c.expected_cents if c.has_plan else 0,
            actual or 0,
            x.fees_estimated_cents,
            acquisition,
            source,
            earned - acquisition,
            x.due_on.isoformat() if c.has_plan else r"\N",
            age_bucket(as_of, c.date_of_service) if open_item else "",
            c.transaction_code != "B2" and c.expected_cents + x.patient_pay_cents < acquisition,
            _json_list(r.reasons),
            job.pk if job else r"\N",
            now.isoformat(),
        )
        buf.write("\t".join(_copy_text(v) for v in fields) + "\n")
    unmatched_cents = 0
    with transaction.atomic():
        ClaimResult.objects.filter(organization=organization).delete()
        UnmatchedPayment.objects.filter(organization=organization).delete()
        PaymentMatch.objects.filter(organization=organization).delete()
        PlbAllocation.objects.filter(organization=organization).delete()
        buf.seek(0)
        columns = (
            "organization_id, location_id, fill_id, date_of_service, status, matched_by, "
            "payments, expected_cents, remitted_cents, recouped_cents, dir_cents, "
            "variance_cents, fees_actual_cents, fees_estimated_cents, acquisition_cents, "
            "acquisition_source, net_margin_cents, due_on, age_bucket, below_cost, reasons, "
            "job_id, computed_at"
        )
        sql = f"COPY reconciliation_claimresult ({columns}) FROM STDIN"
        with connection.cursor() as cur, cur.copy(sql) as copy:
            while chunk := buf.read(1 << 20):
                copy.write(chunk)
        matches = io.StringIO()
        for payment_id, fill_id, how in outcome.matches:
            matches.write(f"{organization.pk}\t{payment_id}\t{fill_id}\t{how}\n")
        with (
            connection.cursor() as cur,
            cur.copy(
                "COPY reconciliation_paymentmatch (organization_id, payment_id, fill_id, how) "
                "FROM STDIN"
            ) as copy,
        ):
            copy.write(matches.getvalue())
        unmatched = []
        for u in outcome.unmatched:
            unmatched_cents += paid_of[u.payment_id]
            unmatched.append(
                UnmatchedPayment(
                    organization=organization,
                    location_id=payment_store.get(u.payment_id),
                    payment_id=u.payment_id,
                    paid_cents=paid_of[u.payment_id],
                    reason=u.reason[:200],
                    job=job,
                )
            )
        UnmatchedPayment.objects.bulk_create(unmatched, batch_size=5000)
        PlbAllocation.objects.bulk_create(
            [
                PlbAllocation(
                    organization=organization,
                    adjustment_id=a.adjustment_id,
                    fill_id=a.fill_id,
                    amount_cents=a.amount_cents,
                    allocated=a.allocated,
                    job=job,
                )
                for a in outcome.allocations
            ],
            batch_size=5000,
        )
    counts = {f"status_{k}": v for k, v in sorted(statuses.items())}
    counts.update(
        results=len(outcome.results),
        unmatched_payments=len(outcome.unmatched),
        unmatched_cents=unmatched_cents,
        plb_tied_cents=sum(
            a.amount_cents for a in outcome.allocations if a.fill_id and not a.allocated
        ),
        plb_allocated_cents=sum(
            a.amount_cents for a in outcome.allocations if a.allocated and a.fill_id
        ),
        plb_carried_cents=sum(
            a.amount_cents for a in outcome.allocations if a.fill_id is None and not a.allocated
        ),
        plb_unplaced_cents=sum(
            a.amount_cents for a in outcome.allocations if a.fill_id is None and a.allocated
        ),
    )
    return counts


def _json_list(items: tuple[str, ...]) -> str:
    return json.dumps(list(items))


def _copy_text(value: Any) -> str:
    if value is True:
        return "t"
    if value is False:
        return "f"
    text = str(value)
    if text == r"\N":
        return text
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
