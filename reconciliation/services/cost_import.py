"""Cost imports: the CMS NADAC file (kind "nadac") and a store's wholesaler invoices (kind
"acquisition"), each through a pure reader (`reconciliation.ingest.costs`) and one
transaction (see `input_files` for the shared error and idempotency rules).

NADAC is national reference data: stored without an organization, keyed by (NDC,
effective date), and any organization's import upserts it; a price is never put back to
an older publication (a file whose "As of Date" is earlier than the stored row's leaves that
row alone). Invoices belong to the store they are uploaded for, keyed by (store, invoice
number, NDC); a line whose account NCPDP is another store's is quarantined."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import pyarrow as pa
from django.contrib.auth.models import User
from django.db import transaction

from reconciliation.ingest.costs import read_acquisition, read_nadac
from reconciliation.input_models import AcquisitionCost, NadacPrice
from reconciliation.services.input_files import (
    input_file_read,
    input_import_create,
    input_import_finish,
    rows_upsert,
    stores_matched,
)
from rxrevops.models import ImportFile, Job, Location, Organization, Role, Scope
from rxrevops.services.imports import ImportKind, import_kind_register, import_run_here
from rxrevops.services.jobs import JobFailed, Progress, job_handler

NADAC = ImportFile.Kind.NADAC.value
ACQUISITION = ImportFile.Kind.ACQUISITION.value
NADAC_COLUMNS = {
    "organization_id": "bigint",
    "ndc": "text",
    "effective_date": "date",
    "per_unit": "numeric(12, 5)",
    "pricing_unit": "text",
    "description": "text",
    "classification": "text",
    "pharmacy_type": "text",
    "otc": "text",
    "explanation_code": "text",
    "generic_per_unit": "numeric(12, 5)",
    "generic_effective_date": "date",
    "as_of_date": "date",
}
INVOICE_COLUMNS = {
    "location_id": "bigint",
    "invoice_number": "text",
    "ndc": "text",
    "invoice_date": "date",
    "description": "text",
    "package_size": "numeric(12, 3)",
    "packages": "numeric(12, 3)",
    "unit_cost": "numeric(14, 5)",
    "extended_cost_cents": "bigint",
}
# a stored price from a later publication is not replaced by an older one
NEWER_OR_SAME_PUBLICATION = (
    "t.as_of_date IS NULL OR EXCLUDED.as_of_date IS NULL OR t.as_of_date <= EXCLUDED.as_of_date"
)


# --- NADAC ---------------------------------------------------------------------------------


def nadac_import_create(
    *,
    organization: Organization,
    stream: IO[bytes],
    original_name: str,
    location: Location | None = None,
    profile: str = "",
    uploaded_by: User | None = None,
    enqueue: bool = True,
) -> Job:
    """Store a NADAC file and queue its import. The prices are national; the job and the
    stored file are the uploading organization's. `location` and `profile` are accepted
    for the shared upload signature and ignored."""
    return input_import_create(
        kind=NADAC,
        label="NADAC",
        organization=organization,
        location=None,
        stream=stream,
        original_name=original_name,
        uploaded_by=uploaded_by,
        enqueue=enqueue,
    )


def nadac_import_path(*, organization: Organization, path: Path) -> Job:
    """Import a NADAC file from disk in this process (the command, the demo seed)."""
    return import_run_here(nadac_import_create, path=path, organization=organization)


import_kind_register(
    ImportKind(
        name=NADAC,
        label="NADAC reference prices",
        description=(
            "The CMS NADAC file as data.medicaid.gov publishes it (its own columns): "
            "national per-unit prices by NDC and effective date, shared by every organization."
        ),
        per_location=False,
        # cost files feed reconciliation: the remittance scope uploads them, no scope of
        # their own
        scope=Scope.REMITS_WRITE,
        roles=(Role.OWNER, Role.REVENUE),
        create=nadac_import_create,
    )
)


@job_handler(NADAC, queue="ingest")
def nadac_import_run(job: Job, progress: Progress) -> dict[str, Any]:
    _, result = input_file_read(job, read_nadac)
    progress.set_total(result.read)
    # the organization's own copy of the national file
    rows = result.rows.append_column(
        "organization_id", pa.array([job.organization_id] * result.rows.num_rows, pa.int64())
    )
    with transaction.atomic():
        written = rows_upsert(
            table=NadacPrice._meta.db_table,
            rows=rows,
            columns=NADAC_COLUMNS,
            key=("organization_id", "ndc", "effective_date"),
            fixed={"updated_at": "now()"},
            params={},
            guard=NEWER_OR_SAME_PUBLICATION,
        )
        return input_import_finish(
            job,
            progress,
            result=result,
            problems=list(result.problems),
            written=written,
            noun="NADAC price(s)",
        )


# --- acquisition costs ----------------------------------------------------------------------


def acquisition_import_create(
    *,
    location: Location,
    stream: IO[bytes],
    original_name: str,
    uploaded_by: User | None = None,
    enqueue: bool = True,
) -> Job:
    """Store a store's invoice file and queue its import."""
    return input_import_create(
        kind=ACQUISITION,
        label="Invoices",
        organization=location.organization,
        location=location,
        stream=stream,
        original_name=original_name,
        uploaded_by=uploaded_by,
        enqueue=enqueue,
    )


def acquisition_import_path(*, location: Location, path: Path) -> Job:
    """Import a store's invoice file from disk in this process (the command, the demo)."""
    return import_run_here(acquisition_import_create, path=path, location=location)


def _acquisition_from_upload(
    *,
    organization: Organization,
    location: Location | None,
    stream: IO[bytes],
    original_name: str,
    profile: str,
    uploaded_by: User | None,
) -> Job:
    if location is None or location.organization_id != organization.pk:
        raise ValueError("Wholesaler invoices are imported into one of the organization's stores")
    return acquisition_import_create(
        location=location, stream=stream, original_name=original_name, uploaded_by=uploaded_by
    )


import_kind_register(
    ImportKind(
        name=ACQUISITION,
        label="Acquisition costs (wholesaler invoices)",
        description=(
            "CSV or XLSX of a store's wholesaler invoice lines (Acquisition costs in "
            "docs/formats.md), one store per file: NDC, packages, unit and extended cost."
        ),
        per_location=True,
        # cost files feed reconciliation: the remittance scope uploads them
        scope=Scope.REMITS_WRITE,
        roles=(Role.OWNER, Role.REVENUE, Role.PHARMACIST),
        create=_acquisition_from_upload,
    )
)


@job_handler(ACQUISITION, queue="ingest")
def acquisition_import_run(job: Job, progress: Progress) -> dict[str, Any]:
    if job.location_id is None:
        raise JobFailed("An invoice file is imported for one store; this job names none.")
    location = Location.objects.get(pk=job.location_id)
    stored, result = input_file_read(job, read_acquisition)
    progress.set_total(result.read)
    with transaction.atomic():
        problems = list(result.problems)
        rows = stores_matched(
            result.rows,
            column="account_ncpdp",
            stores={location.ncpdp_id: location.pk},
            problems=problems,
            reason=lambda ncpdp: (
                f"This line is for store {ncpdp}; the file was uploaded for store "
                f"{location.ncpdp_id}."
            ),
        )
        written = rows_upsert(
            table=AcquisitionCost._meta.db_table,
            rows=rows,
            columns=INVOICE_COLUMNS,
            key=("location_id", "invoice_number", "ndc"),
            fixed={
                "organization_id": "%(organization)s",
                "import_file_id": "%(import_file)s",
                "job_id": "%(job)s",
                "updated_at": "now()",
            },
            params={"organization": job.organization_id, "import_file": stored.pk, "job": job.pk},
        )
        return input_import_finish(
            job, progress, result=result, problems=problems, written=written, noun="invoice line(s)"
        )
