"""835 import: upload -> stored file -> job on the ingest queue -> streaming reader -> COPY into
the remittance tables.

A file loads in one database transaction: the reader may find a fatal problem after it has
yielded earlier transactions, and a file that cannot be read is rejected whole. A worker that
dies mid-file leaves nothing behind, and the retry loads the file from the start.

Idempotency is per payment: a transaction whose payer trace (TRN03 + TRN02) is already loaded
with the same content is counted as a duplicate and skipped; the same trace with different
content is a corrected re-send and replaces the current version (kept, marked superseded).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import IO, Any

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from reconciliation.x12 import ERROR, WARNING, Issue, X12Error, read_835
from reconciliation.x12 import Remittance as RemitRecord
from rxrevops.models import ImportFile, Job, Location, Organization, Role, Scope
from rxrevops.services.imports import (
    ImportKind,
    import_file_path,
    import_file_store,
    import_kind_register,
    import_run_here,
)
from rxrevops.services.jobs import JobFailed, Progress, job_create, job_handler

KIND = "x12_835"
FLUSH_ROWS = 20_000  # buffered rows written per COPY round


def remit_import_create(
    *,
    organization: Organization,
    stream: IO[bytes],
    original_name: str,
    location: Location | None = None,
    profile: str = "",
    uploaded_by: User | None = None,
    enqueue: bool = True,
) -> Job:
    """Store an 835 file and queue its import. The stores are named by the file (each
    payment's payee), so no location is asked for; `location` and `profile` are accepted
    for the shared upload signature and ignored."""
    with transaction.atomic():
        stored = import_file_store(
            organization=organization,
            location=None,
            kind=ImportFile.Kind.X12_835,
            stream=stream,
            original_name=original_name,
            uploaded_by=uploaded_by,
        )
        return job_create(
            organization=organization,
            kind=KIND,
            label=f"835 remittance {stored.original_name}",
            params={"import_file": stored.pk, "sha256": stored.sha256},
            created_by=uploaded_by,
            enqueue=enqueue,
        )


def remit_import_path(*, organization: Organization, path: Path) -> Job:
    """Import an 835 from disk in this process (the management command, the demo seed)."""
    return import_run_here(remit_import_create, path=path, organization=organization)


import_kind_register(
    ImportKind(
        name=KIND,
        label="835 remittance",
        description=(
            "X12 835 remittance advice from a PBM, payer or clearinghouse; any delimiters, "
            "several payments per file. Each payment is filed under the store it pays."
        ),
        per_location=False,
        scope=Scope.REMITS_WRITE,
        roles=(Role.OWNER, Role.REVENUE),
        create=remit_import_create,
    )
)


@job_handler(KIND, queue="ingest")
def remit_import_run(job: Job, progress: Progress) -> dict[str, Any]:
    stored = ImportFile.objects.get(pk=job.params["import_file"])
    path = import_file_path(stored)
    file_issues: list[Issue] = []
    loader = _Loader(job=job, stored=stored)
    flush_rows = int(job.params.get("flush_rows", FLUSH_ROWS))
    try:
        with transaction.atomic():
            for remit in read_835(path, name=stored.original_name, file_issues=file_issues):
                loader.add(remit)
                if loader.buffered >= flush_rows:
                    loader.flush()
            loader.flush()
            if loader.counts["transactions"] == 0:
                raise JobFailed(f"{stored.original_name}: the file holds no 835 transaction.")
            _record_issues(job, [*file_issues, *loader.issues])
    except X12Error as exc:
        first = exc.issues[0] if exc.issues else None
        raise JobFailed(
            f"{stored.original_name} was rejected and nothing from it was loaded: "
            f"{first.message if first else exc}",
            errors=[_issue_row(i) for i in exc.issues[:1000]],
        ) from None
    counts = loader.counts
    progress.advance(counts["transactions"], **counts)
    job.message = _summary(counts)
    Job.objects.filter(pk=job.pk).update(message=job.message)
    return counts


def _summary(counts: dict[str, int]) -> str:
    parts = [f"{counts['loaded']} payment(s) loaded with {counts['claims']} claim(s)"]
    if counts["duplicates"]:
        parts.append(f"{counts['duplicates']} already loaded (nothing changed)")
    if counts["corrected"]:
        parts.append(f"{counts['corrected']} corrected re-send(s) replaced the earlier version")
    if counts["flagged"]:
        parts.append(f"{counts['flagged']} do not balance or have unreadable values (flagged)")
    return "; ".join(parts) + "."


def _issue_row(issue: Issue) -> dict[str, Any]:
    where = [f"segment {issue.segment}"] if issue.segment is not None else []
    if issue.loop:
        where.append(f"loop {issue.loop}")
    if issue.transaction_control:
        where.append(f"ST {issue.transaction_control}")
    return {
        "where": ", ".join(where) or issue.file,
        "field": issue.element or issue.segment_id or "",
        "value": (issue.found or "")[:200],
        "reason": issue.message,
        "severity": issue.severity,
        "code": issue.code,
    }


def _record_issues(job: Job, issues: Sequence[Issue]) -> None:
    if not issues:
        return
    job.errors = [_issue_row(i) for i in issues[:1000]]
    job.error_count = len(issues)
    Job.objects.filter(pk=job.pk).update(errors=job.errors, error_count=job.error_count)


def fingerprint(remit: RemitRecord) -> str:
    """The payment's content, independent of where it sits in a file: a re-send of the same
    payment has the same fingerprint, a corrected one does not."""
    digest = hashlib.sha256()
    head = (
        remit.handling_code,
        remit.paid_cents,
        remit.credit_debit,
        remit.method,
        remit.payment_date,
        remit.trace_number,
        remit.trace_originator,
        remit.payer_id,
        remit.payee_npi,
        remit.payee_ncpdp,
    )
    digest.update(repr(head).encode())
    for c in remit.claims:
        digest.update(
            repr(
                (
                    c.claim_ref,
                    c.status,
                    c.charge_cents,
                    c.paid_cents,
                    c.patient_resp_cents,
                    c.payer_claim_control,
                    [(a.group, a.reason, a.amount_cents) for a in c.adjustments],
                    [
                        (
                            s.qualifier,
                            s.code,
                            s.charge_cents,
                            s.paid_cents,
                            s.units,
                            [(a.group, a.reason, a.amount_cents) for a in s.adjustments],
                        )
                        for s in c.services
                    ],
                )
            ).encode()
        )
    for p in remit.provider_adjustments:
        digest.update(repr((p.reason, p.reference, p.amount_cents)).encode())
    return digest.hexdigest()


class _Loader:
    """Buffers one file's payments as rows and writes them with COPY. Ids for claims and
    service lines are reserved from their sequences up front, so children can point at
    their parents without a round trip per row."""

    REMITTANCE_COLUMNS = (
        "id",
        "organization_id",
        "location_id",
        "job_id",
        "import_file_id",
        "interchange_control",
        "group_control",
        "transaction_control",
        "sender_id",
        "receiver_id",
        "first_segment",
        "last_segment",
        "payer_name",
        "payer_id",
        "payee_name",
        "payee_npi",
        "payee_ncpdp",
        "payee_tin",
        "handling_code",
        "paid_cents",
        "credit_debit",
        "method",
        "payment_date",
        "trace_number",
        "trace_originator",
        "production_date",
        "claim_count",
        "service_count",
        "claim_paid_cents",
        "provider_adjustment_cents",
        "balanced",
        "error_count",
        "warning_count",
        "issues",
        "fingerprint",
        "superseded_by_id",
        "loaded_at",
    )
    CLAIM_COLUMNS = (
        "id",
        "remittance_id",
        "organization_id",
        "location_id",
        "position",
        "segment",
        "claim_ref",
        "status",
        "charge_cents",
        "paid_cents",
        "patient_resp_cents",
        "filing_indicator",
        "payer_claim_control",
        "patient_last_name",
        "patient_first_name",
        "member_id",
        "service_date",
        "refs",
        "amounts",
        "balanced",
    )
    SERVICE_COLUMNS = (
        "id",
        "claim_id",
        "position",
        "segment",
        "qualifier",
        "code",
        "modifiers",
        "charge_cents",
        "paid_cents",
        "units",
        "service_date",
        "control_number",
        "remarks",
        "balanced",
    )
    ADJUSTMENT_COLUMNS = (
        "claim_id",
        "service_id",
        "segment",
        "group",
        "reason",
        "amount_cents",
        "quantity",
    )
    PLB_COLUMNS = (
        "remittance_id",
        "segment",
        "provider_id",
        "fiscal_period",
        "reason",
        "reference",
        "amount_cents",
    )

    def __init__(self, *, job: Job, stored: ImportFile) -> None:
        self.job = job
        self.stored = stored
        self.organization_id = job.organization_id
        stores = Location.objects.filter(organization_id=job.organization_id)
        self.by_npi = {loc.npi: loc.pk for loc in stores if loc.npi}
        self.by_ncpdp = {loc.ncpdp_id: loc.pk for loc in stores}
        self.now = timezone.now()
        self.remits: list[tuple[Any, ...]] = []
        self.seen: dict[tuple[str, str], tuple[int, str]] = {}  # this file's payments
        # payments loaded before this file: originator -> trace -> (id, fingerprint)
        self.loaded_traces: dict[str, dict[str, tuple[int, str]]] = {}
        self.unflushed: set[int] = set()  # remittance ids still in the buffer
        self.claims: list[tuple[Any, ...]] = []
        self.services: list[tuple[Any, ...]] = []
        self.adjustments: list[tuple[Any, ...]] = []
        self.plbs: list[tuple[Any, ...]] = []
        self.issues: list[Issue] = []
        self.counts = dict.fromkeys(
            ("transactions", "loaded", "duplicates", "corrected", "flagged", "claims"), 0
        )

    @property
    def buffered(self) -> int:
        return len(self.claims) + len(self.services) + len(self.adjustments)

    def add(self, remit: RemitRecord) -> None:
        self.counts["transactions"] += 1
        content = fingerprint(remit)
        key = (
            (remit.trace_originator[:20], remit.trace_number[:80])
            if remit.trace_number
            else ("", content)  # no trace to go by: only an identical payment is recognized
        )
        current = self.seen.get(key) or self._current_version(remit, content)
        if current is not None and current[1] == content:
            self.counts["duplicates"] += 1
            return
        location_id = self._store_for(remit)
        issues = list(remit.issues)
        if location_id is None:
            issues.append(
                Issue(
                    severity=WARNING,
                    code="payee-not-a-store",
                    message=(
                        f"The payee ({remit.payee_name or 'no name'}, NPI "
                        f"{remit.payee_npi or '-'}, NCPDP {remit.payee_ncpdp or '-'}) is not "
                        "one of this organization's stores: the payment is filed for the "
                        "organization as a whole."
                    ),
                    file=remit.file,
                    interchange_control=remit.interchange_control,
                    transaction_control=remit.transaction_control,
                    segment=remit.first_segment,
                    segment_id="N1",
                    loop="1000B",
                )
            )
        self.issues.extend(issues)
        errors = sum(1 for i in issues if i.severity == ERROR)
        services = sum(len(c.services) for c in remit.claims)
        new_id, claim_ids, service_ids = _reserve_ids(len(remit.claims), services)
        if current is not None:  # the replaced version steps aside before the new one lands
            if current[0] in self.unflushed:
                self.flush()
            with connection.cursor() as cur:
                cur.execute(
                    "UPDATE reconciliation_remittance SET superseded_by_id = %s WHERE id = %s",
                    [new_id, current[0]],
                )
            self.counts["corrected"] += 1
        balanced = remit.balanced and errors == 0
        self.remits.append(
            (
                new_id,
                self.organization_id,
                location_id,
                self.job.pk,
                self.stored.pk,
                remit.interchange_control or "",
                remit.group_control or "",
                remit.transaction_control,
                (remit.sender_id or "")[:30],
                (remit.receiver_id or "")[:30],
                remit.first_segment,
                remit.last_segment,
                remit.payer_name[:120],
                (remit.payer_id or "")[:80],
                remit.payee_name[:120],
                (remit.payee_npi or "")[:10],
                (remit.payee_ncpdp or "")[:20],
                (remit.payee_tin or "")[:20],
                remit.handling_code[:2],
                remit.paid_cents,
                remit.credit_debit[:1],
                remit.method[:3],
                remit.payment_date,
                remit.trace_number[:80],
                remit.trace_originator[:20],
                remit.production_date,
                len(remit.claims),
                services,
                sum(c.paid_cents or 0 for c in remit.claims),
                sum(p.amount_cents for p in remit.provider_adjustments),
                balanced,
                errors,
                sum(1 for i in issues if i.severity == WARNING),
                json.dumps([_issue_json(i) for i in issues], default=str),
                content,
                None,
                self.now,
            )
        )
        self.unflushed.add(new_id)
        self.seen[key] = (new_id, content)
        self.counts["loaded"] += 1
        self.counts["claims"] += len(remit.claims)
        if not balanced:
            self.counts["flagged"] += 1
        self._rows(remit, new_id, location_id, claim_ids, service_ids)

    def _current_version(self, remit: RemitRecord, content: str) -> tuple[int, str] | None:
        """(id, fingerprint) of the current version of this payment, if one is loaded. The
        payer's current traces are read once per file, in one query per payer."""
        if not remit.trace_number:
            with connection.cursor() as cur:
                cur.execute(
                    "SELECT id, fingerprint FROM reconciliation_remittance "
                    "WHERE organization_id = %s AND trace_number = '' AND fingerprint = %s "
                    "AND superseded_by_id IS NULL LIMIT 1",
                    [self.organization_id, content],
                )
                row = cur.fetchone()
            return (int(row[0]), str(row[1])) if row else None
        originator = remit.trace_originator[:20]
        if originator not in self.loaded_traces:
            with connection.cursor() as cur:
                cur.execute(
                    "SELECT trace_number, id, fingerprint FROM reconciliation_remittance "
                    "WHERE organization_id = %s AND trace_originator = %s "
                    "AND trace_number <> '' AND superseded_by_id IS NULL",
                    [self.organization_id, originator],
                )
                self.loaded_traces[originator] = {
                    str(t): (int(i), str(f)) for t, i, f in cur.fetchall()
                }
        return self.loaded_traces[originator].get(remit.trace_number[:80])

    def _store_for(self, remit: RemitRecord) -> int | None:
        if remit.payee_npi and remit.payee_npi in self.by_npi:
            return self.by_npi[remit.payee_npi]
        if remit.payee_ncpdp and remit.payee_ncpdp in self.by_ncpdp:
            return self.by_ncpdp[remit.payee_ncpdp]
        return None

    def _rows(
        self,
        remit: RemitRecord,
        remittance_id: int,
        location_id: int | None,
        claim_ids: list[int],
        service_ids: list[int],
    ) -> None:
        next_service = iter(service_ids)
        for position, (claim, claim_id) in enumerate(
            zip(remit.claims, claim_ids, strict=True), start=1
        ):
            patient = claim.patient
            service_date = claim.dates.get("232") or next(
                (s.dates.get("472") or s.dates.get("150") for s in claim.services), None
            )
            self.claims.append(
                (
                    claim_id,
                    remittance_id,
                    self.organization_id,
                    location_id,
                    position,
                    claim.segment,
                    claim.claim_ref[:50],
                    claim.status[:3],
                    claim.charge_cents,
                    claim.paid_cents,
                    claim.patient_resp_cents,
                    claim.filing_indicator[:3],
                    claim.payer_claim_control[:50],
                    (patient.last_name if patient else "")[:60],
                    (patient.first_name if patient else "")[:35],
                    (claim.member_id or "")[:80],
                    service_date,
                    _json(claim.refs),
                    _json(claim.amounts),
                    claim.balanced,
                )
            )
            for adj in claim.adjustments:
                self.adjustments.append(_adjustment(adj, claim_id, None))
            for line_no, service in enumerate(claim.services, start=1):
                service_id = next(next_service)
                self.services.append(
                    (
                        service_id,
                        claim_id,
                        line_no,
                        service.segment,
                        service.qualifier[:3],
                        service.code[:48],
                        ":".join(service.modifiers)[:20],
                        service.charge_cents,
                        service.paid_cents,
                        service.units,
                        service.dates.get("472") or service.dates.get("150"),
                        (service.control_number or "")[:50],
                        " ".join(code for _, code in service.remarks)[:200],
                        service.balanced,
                    )
                )
                for adj in service.adjustments:
                    self.adjustments.append(_adjustment(adj, claim_id, service_id))
        for plb in remit.provider_adjustments:
            self.plbs.append(
                (
                    remittance_id,
                    plb.segment,
                    plb.provider_id[:50],
                    plb.fiscal_period,
                    plb.reason[:3],
                    plb.reference[:80],
                    plb.amount_cents,
                )
            )

    def flush(self) -> None:
        with connection.cursor() as cur:
            for table, columns, rows in (
                ("reconciliation_remittance", self.REMITTANCE_COLUMNS, self.remits),
                ("reconciliation_claimpayment", self.CLAIM_COLUMNS, self.claims),
                ("reconciliation_servicepayment", self.SERVICE_COLUMNS, self.services),
                ("reconciliation_adjustment", self.ADJUSTMENT_COLUMNS, self.adjustments),
                ("reconciliation_provideradjustment", self.PLB_COLUMNS, self.plbs),
            ):
                if not rows:
                    continue
                names = ", ".join(f'"{c}"' for c in columns)
                with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                rows.clear()
        self.unflushed.clear()


def _adjustment(adj: Any, claim_id: int, service_id: int | None) -> tuple[Any, ...]:
    return (
        claim_id,
        service_id,
        adj.segment,
        adj.group[:2],
        adj.reason[:5],
        adj.amount_cents,
        adj.quantity,
    )


@cache
def _sequence(table: str) -> str:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        return str(cur.fetchone()[0])


def _reserve_ids(claims: int, services: int) -> tuple[int, list[int], list[int]]:
    """Ids for one payment, its claims and its service lines, in one round trip."""
    remittance, claim, service = (
        _sequence(f"reconciliation_{t}") for t in ("remittance", "claimpayment", "servicepayment")
    )
    with connection.cursor() as cur:
        cur.execute(
            "SELECT nextval(%s::regclass), "
            "ARRAY(SELECT nextval(%s::regclass) FROM generate_series(1, %s)), "
            "ARRAY(SELECT nextval(%s::regclass) FROM generate_series(1, %s))",
            [remittance, claim, claims, service, services],
        )
        remittance_id, claim_ids, service_ids = cur.fetchone()
    return int(remittance_id), list(claim_ids), list(service_ids)


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True) if value else "{}"


def _issue_json(issue: Issue) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(issue).items() if v is not None}


def remittance_issues(issues: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored issues, errors first, then by segment."""
    order = {"fatal": 0, "error": 1, "warning": 2}
    return sorted(issues, key=lambda i: (order.get(i.get("severity", ""), 3), i.get("segment", 0)))
