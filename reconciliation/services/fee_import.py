"""PBM fee / DIR statement import (kind "fees"): upload -> job -> lines checked
(`reconciliation.ingest.fees`) -> stores matched by NCPDP -> `FeeLine`s upserted on
(store, Rx, fill, date of service, transaction, statement date, fee type), all in one
transaction (see `input_files` for the shared error and idempotency rules).

A statement names its stores line by line, so it is uploaded for the organization, like an
835. A line for a store the organization does not have is quarantined."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

from django.contrib.auth.models import User
from django.db import transaction

from reconciliation.ingest.fees import read_fee_statement
from reconciliation.input_models import FeeLine
from reconciliation.services.input_files import (
    input_file_read,
    input_import_create,
    input_import_finish,
    rows_upsert,
    stores_matched,
)
from rxrevops.models import ImportFile, Job, Location, Organization, Role, Scope
from rxrevops.services.imports import ImportKind, import_kind_register, import_run_here
from rxrevops.services.jobs import Progress, job_handler

KIND = ImportFile.Kind.FEES.value
STAGE_COLUMNS = {
    "location_id": "bigint",
    "rx_number": "bigint",
    "fill_number": "integer",
    "date_of_service": "date",
    "transaction_code": "text",
    "statement_date": "date",
    "fee_type": "text",
    "payer_name": "text",
    "bin": "text",
    "pcn": "text",
    "group": "text",
    "authorization_number": "text",
    "amount_cents": "bigint",
}
KEY = (
    "location_id",
    "rx_number",
    "fill_number",
    "date_of_service",
    "transaction_code",
    "statement_date",
    "fee_type",
)


def fee_import_create(
    *,
    organization: Organization,
    stream: IO[bytes],
    original_name: str,
    location: Location | None = None,
    profile: str = "",
    uploaded_by: User | None = None,
    enqueue: bool = True,
) -> Job:
    """Store a fee statement and queue its import. Its lines name their stores, so no
    location is asked for; `location` and `profile` are accepted for the shared upload
    signature and ignored."""
    return input_import_create(
        kind=KIND,
        label="Fee statement",
        organization=organization,
        location=None,
        stream=stream,
        original_name=original_name,
        uploaded_by=uploaded_by,
        enqueue=enqueue,
    )


def fee_import_path(*, organization: Organization, path: Path) -> Job:
    """Import a fee statement from disk in this process (the command, the demo seed)."""
    return import_run_here(fee_import_create, path=path, organization=organization)


import_kind_register(
    ImportKind(
        name=KIND,
        label="PBM fee / DIR statement",
        description=(
            "CSV of fees per claim from a PBM or PSAO statement (Fee / DIR statements in "
            "docs/formats.md), for the organization: each line names its store by NCPDP."
        ),
        per_location=False,
        # fee statements are remittance-side money: the scope that uploads 835s
        scope=Scope.REMITS_WRITE,
        roles=(Role.OWNER, Role.REVENUE),
        create=fee_import_create,
    )
)


@job_handler(KIND, queue="ingest")
def fee_import_run(job: Job, progress: Progress) -> dict[str, Any]:
    stored, result = input_file_read(job, read_fee_statement)
    progress.set_total(result.read)
    with transaction.atomic():
        problems = list(result.problems)
        stores = dict(
            Location.objects.filter(organization_id=job.organization_id).values_list(
                "ncpdp_id", "pk"
            )
        )
        rows = stores_matched(
            result.rows,
            column="pharmacy_ncpdp",
            stores=stores,
            problems=problems,
            reason=lambda _: "No store of this organization has this NCPDP id.",
        )
        written = rows_upsert(
            table=FeeLine._meta.db_table,
            rows=rows,
            columns=STAGE_COLUMNS,
            key=KEY,
            fixed={
                "organization_id": "%(organization)s",
                "import_file_id": "%(import_file)s",
                "job_id": "%(job)s",
                "updated_at": "now()",
            },
            params={"organization": job.organization_id, "import_file": stored.pk, "job": job.pk},
        )
        return input_import_finish(
            job, progress, result=result, problems=problems, written=written, noun="fee line(s)"
        )
