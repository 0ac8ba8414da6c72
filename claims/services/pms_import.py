"""PMS export import: upload -> stored file -> job on the ingest queue -> batches parsed with
pyarrow, normalized set-wise, COPYed to a staging table, upserted with one SQL file.

Each batch commits its upsert, its quarantined rows and its checkpoint together, so a job
resumed after a crash skips the batches already done and ends in the same state with the
same counts."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import IO, Any

from django.contrib.auth.models import User
from django.db import connection, transaction

from claims.ingest.normalize import normalize
from claims.ingest.profiles import UnknownLayout, detect_profile
from claims.ingest.read import LINE, FileRejected, RowProblem, open_batches
from rxrevops.models import ImportFile, Job, Location, QuarantinedRow
from rxrevops.services.imports import import_file_path, import_file_store
from rxrevops.services.jobs import JobFailed, Progress, job_create, job_execute, job_handler

SQL = Path(__file__).resolve().parent.parent / "sql"
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
    "usual_and_customary_cents",
    "ingredient_cost_paid_cents",
    "dispensing_fee_paid_cents",
    "patient_pay_amount_cents",
    "total_amount_paid_cents",
    "acquisition_cost_cents",
    "basis_of_reimbursement",
    "authorization_number",
)
BATCH_ROWS = 50_000
COUNT_KEYS = ("read", "inserted", "updated", "unchanged", "quarantined")


def pms_import_create(
    *,
    location: Location,
    stream: IO[bytes],
    original_name: str,
    profile: str = "",
    uploaded_by: User | None = None,
    enqueue: bool = True,
) -> Job:
    """Store the file and queue its import (or leave it for the caller to run in-process
    with `job_execute`). Returns the job to follow."""
    with transaction.atomic():
        stored = import_file_store(
            organization=location.organization,
            location=location,
            kind=ImportFile.Kind.PMS,
            stream=stream,
            original_name=original_name,
            profile=profile,
            uploaded_by=uploaded_by,
        )
        earlier = (
            Job.objects.filter(
                kind="pms",
                location=location,
                status=Job.Status.SUCCEEDED,
                params__sha256=stored.sha256,
            )
            .order_by("pk")
            .first()
        )
        return job_create(
            organization=location.organization,
            location=location,
            kind="pms",
            label=f"PMS export {stored.original_name}",
            params={
                "import_file": stored.pk,
                "sha256": stored.sha256,
                "profile": profile,
                "same_as_job": earlier.pk if earlier else None,
            },
            created_by=uploaded_by,
            enqueue=enqueue,
        )


def pms_import_path(*, location: Location, path: Path, profile: str = "") -> Job:
    """Import a file from disk in this process (the management command, the demo seed)."""
    with path.open("rb") as fh:
        job = pms_import_create(
            location=location, stream=fh, original_name=path.name, profile=profile, enqueue=False
        )
    job_execute(job_id=job.pk)
    job.refresh_from_db()
    return job


@job_handler("pms", queue="ingest")
def pms_import_run(job: Job, progress: Progress) -> dict[str, Any]:
    stored = ImportFile.objects.get(pk=job.params["import_file"])
    path = import_file_path(stored)
    try:
        batches = open_batches(path, batch_rows=int(job.params.get("batch_rows", BATCH_ROWS)))
        profile = detect_profile(batches.headers, job.params.get("profile") or None)
    except (FileRejected, UnknownLayout) as exc:
        raise JobFailed(f"{stored.original_name}: {exc}") from None
    except ValueError as exc:  # unknown profile name
        raise JobFailed(str(exc)) from None
    if batches.kind == "csv":
        progress.set_total(max(_count_lines(path) - 1, 0))
    done = int(job.params.get("batches_done", 0))
    counts = {k: int(job.counts.get(k, 0)) for k in COUNT_KEYS}
    try:
        for index, batch in enumerate(batches.batches):
            if index < done:  # committed by an earlier attempt
                continue
            result = normalize(batch, profile)
            with transaction.atomic():
                # the batch and its checkpoint commit together, so a commit lost in a crash
                # is simply redone by the retry: no need to wait for the WAL flush
                with connection.cursor() as cur:
                    cur.execute("SET LOCAL synchronous_commit = off")
                inserted, updated = _load(result.rows, location_id=job.location_id, job_id=job.pk)
                _quarantine(job, result.problems)
                counts["read"] += len(batch)
                counts["inserted"] += inserted
                counts["updated"] += updated
                counts["unchanged"] += len(result.rows) - inserted - updated
                counts["quarantined"] += len(result.problems)
                job.params["batches_done"] = index + 1
                Job.objects.filter(pk=job.pk).update(params=job.params)
                progress.advance(counts["read"], **counts)
    except FileRejected as exc:
        raise JobFailed(f"{stored.original_name}: {exc}") from None
    if batches.problems:  # malformed lines, known once the whole file was read
        with transaction.atomic():
            _quarantine(job, batches.problems)
            counts["read"] += len(batches.problems)
            counts["quarantined"] += len(batches.problems)
            progress.advance(counts["read"], **counts)
    job.counts["profile"] = profile.name
    if job.params.get("same_as_job") and counts["inserted"] == counts["updated"] == 0:
        job.message = (
            f"Same file as job #{job.params['same_as_job']}: nothing changed "
            f"({counts['unchanged']} rows already up to date)."
        )
        Job.objects.filter(pk=job.pk).update(message=job.message)
    return {**counts, "profile": profile.name}


def _count_lines(path: Path) -> int:
    lines = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            lines += chunk.count(b"\n")
    return lines


def _load(rows: Any, *, location_id: int | None, job_id: int) -> tuple[int, int]:
    if rows.empty:
        return 0, 0
    buf = io.StringIO()
    # \N marks NULL, so an empty field stays an empty string
    rows.loc[:, list(STAGE_COLUMNS)].to_csv(buf, index=False, header=False, na_rep="\\N")
    with connection.cursor() as cur:
        _run_sql(cur, "pms_stage.sql", {})
        with cur.copy(
            f"COPY pms_stage ({', '.join(c if c != LINE else 'line' for c in STAGE_COLUMNS)}) "
            "FROM STDIN WITH (FORMAT csv, NULL '\\N')"
        ) as copy:
            copy.write(buf.getvalue())
        # a temp table has no statistics until analyzed; without them the planner guesses
        # one row and picks nested loops over the whole batch
        cur.execute("ANALYZE pms_stage")
        params = {"location": location_id, "job": job_id}
        _run_sql(cur, "pms_upsert.sql", params)
        inserted, updated = cur.fetchone()
        _run_sql(cur, "pms_mark_reversed.sql", params)
        cur.execute("DROP TABLE pms_stage")
    return int(inserted), int(updated)


def _run_sql(cur: Any, name: str, params: dict[str, Any]) -> None:
    """Run a named SQL file statement by statement (bound parameters allow one at a time)."""
    for statement in _statements(name):
        cur.execute(statement, params or None)


@cache
def _statements(name: str) -> list[str]:
    text = "\n".join(
        line for line in (SQL / name).read_text().splitlines() if not line.startswith("--")
    )
    return [s.strip() for s in text.split(";\n") if s.strip().rstrip(";")]


def _quarantine(job: Job, problems: list[RowProblem]) -> None:
    if not problems:
        return
    QuarantinedRow.objects.bulk_create(
        [
            QuarantinedRow(
                job=job,
                line=p.line,
                field=p.column[:100],
                value=p.value[:2000],
                reason=p.reason[:300],
            )
            for p in problems
        ],
        ignore_conflicts=True,
    )
    job.errors = (list(job.errors) + [p.as_dict() for p in problems])[:1000]
    job.error_count += len(problems)
    Job.objects.filter(pk=job.pk).update(errors=job.errors, error_count=job.error_count)
