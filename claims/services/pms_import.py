"""PMS export import: upload -> stored file -> job on the ingest queue -> batches parsed with
pyarrow, normalized set-wise, COPYed to a staging table, upserted with one SQL file.

Each batch commits its upsert, its quarantined rows and its checkpoint together, so a job
resumed after a crash skips the batches already done and ends in the same state with the
same counts.

The same file again, when it was the store's last import and nothing has written the
store's claims since, cannot change anything: that job is answered from the earlier one's
counts without reading the file (`_unchanged_since`). Any other re-upload (an older file, a
file after another import, the same rows in a new file) goes through every row."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pacsv
from django.contrib.auth.models import User
from django.db import connection, transaction

from claims.ingest.normalize import STAGE_COLUMNS, Normalized, normalize
from claims.ingest.profiles import Profile, UnknownLayout, detect_profile
from claims.ingest.read import LINE, FileRejected, RowProblem, open_batches
from claims.models import Fill
from rxrevops.models import ImportFile, Job, Location, Organization, Role, Scope
from rxrevops.services.imports import (
    ImportKind,
    import_file_path,
    import_file_store,
    import_kind_register,
    import_run_here,
    quarantine_record,
)
from rxrevops.services.jobs import JobFailed, Progress, job_create, job_handler

SQL = Path(__file__).resolve().parent.parent / "sql"
# rows per batch: each is normalized in a thread while the one before it is in Postgres, and
# normalizing one takes ~100 MB of short-lived Python and Arrow memory on top of the batch, so
# the batch size sets the worker's peak (read + normalize of 1M rows: 488 MB at 50,000 rows,
# 391 MB at 25,000; the whole import 508-529 MB at 50,000 on a slower machine, against a
# 500 MB limit), while the per-batch statements cost little next to the rows' own work
BATCH_ROWS = 25_000
ANALYZE_MIN_ROWS = 10_000  # below this the planner's guesses are harmless
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
    return import_run_here(pms_import_create, path=path, location=location, profile=profile)


def _create_from_upload(
    *,
    organization: Organization,
    location: Location | None,
    stream: IO[bytes],
    original_name: str,
    profile: str,
    uploaded_by: User | None,
) -> Job:
    if location is None or location.organization_id != organization.pk:
        raise ValueError("A PMS export is imported into one of the organization's stores")
    return pms_import_create(
        location=location,
        stream=stream,
        original_name=original_name,
        profile=profile,
        uploaded_by=uploaded_by,
    )


import_kind_register(
    ImportKind(
        name="pms",
        label="PMS export",
        description=(
            "CSV or XLSX dispensing/claims report, one store per file. The layout is detected "
            "from the headers (PioneerRx, BestRx, Liberty or the canonical layout in "
            "docs/formats.md)."
        ),
        per_location=True,
        scope=Scope.CLAIMS_WRITE,
        roles=(Role.OWNER, Role.REVENUE, Role.PHARMACIST),
        create=_create_from_upload,
    )
)


def _unchanged_since(job: Job) -> Job | None:
    """The earlier job that imported this very file, if re-reading it cannot change a row:
    it succeeded, it is the store's latest PMS import (no other import of the store was
    created after it, finished or not), and no claim of the store was written after it
    finished (by whatever writer)."""
    earlier_id = job.params.get("same_as_job")
    if not earlier_id or job.params.get("batches_done") or job.location_id is None:
        return None
    earlier = Job.objects.filter(
        pk=earlier_id, kind="pms", location_id=job.location_id, status=Job.Status.SUCCEEDED
    ).first()
    if earlier is None or earlier.finished_at is None:
        return None
    later = Job.objects.filter(kind="pms", location_id=job.location_id, pk__gt=earlier.pk)
    if later.exclude(pk=job.pk).exists():
        return None
    touched = Fill.objects.filter(location_id=job.location_id, updated_at__gt=earlier.finished_at)
    if touched.exists():
        return None
    return earlier


@job_handler("pms", queue="ingest")
def pms_import_run(job: Job, progress: Progress) -> dict[str, Any]:
    if job.params.get("push"):  # claims.services.fill_push loads and finishes its own job
        raise JobFailed("A PMS push is loaded by the request that sent it; nothing to run.")
    earlier = _unchanged_since(job)
    if earlier is not None:
        c = {k: int(earlier.counts.get(k, 0)) for k in COUNT_KEYS}
        counts = {
            "read": c["read"],
            "inserted": 0,
            "updated": 0,
            "unchanged": c["inserted"] + c["updated"] + c["unchanged"],
            "quarantined": c["quarantined"],
        }
        job.message = (
            f"Same file as job #{earlier.pk}: nothing changed. It is this store's last import "
            "and no claim has been written since, so the file was not read again"
            + (
                f"; its {c['quarantined']} quarantined rows are on job #{earlier.pk}."
                if c["quarantined"]
                else "."
            )
        )
        Job.objects.filter(pk=job.pk).update(message=job.message)
        progress.set_total(counts["read"])
        progress.advance(counts["read"], **counts)
        return {**counts, "profile": earlier.counts.get("profile", ""), "same_file": 1}
    stored = ImportFile.objects.get(pk=job.params["import_file"])
    path = import_file_path(stored)
    try:
        batches = open_batches(path, batch_rows=int(job.params.get("batch_rows", BATCH_ROWS)))
        profile = detect_profile(batches.headers, job.params.get("profile") or None)
    except (FileRejected, UnknownLayout) as exc:
        raise JobFailed(f"{stored.original_name}: {exc}") from None
    except ValueError as exc:  # unknown profile name
        raise JobFailed(str(exc)) from None
    if batches.rows is not None:
        progress.set_total(batches.rows)
    done = int(job.params.get("batches_done", 0))
    counts = {k: int(job.counts.get(k, 0)) for k in COUNT_KEYS}
    statistics = _Statistics()
    try:
        # the next batch is parsed and normalized in a thread while this one is in Postgres
        for index, size, result, text in _prepared(batches.batches, profile, skip=done):
            if result is None:  # committed by an earlier attempt
                continue
            with transaction.atomic():
                # the batch and its checkpoint commit together, so a commit lost in a crash
                # is simply redone by the retry: no need to wait for the WAL flush
                with connection.cursor() as cur:
                    cur.execute("SET LOCAL synchronous_commit = off")
                inserted, updated = _load(
                    result.rows.num_rows, text, location_id=job.location_id, job_id=job.pk
                )
                _quarantine(job, result.problems)
                counts["read"] += size
                counts["inserted"] += inserted
                counts["updated"] += updated
                counts["unchanged"] += result.rows.num_rows - inserted - updated
                counts["quarantined"] += len(result.problems)
                job.params["batches_done"] = index + 1
                Job.objects.filter(pk=job.pk).update(params=job.params)
                progress.advance(counts["read"], **counts)
            statistics.after_batch(inserted)
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


def _prepared(
    batches: Iterator[pa.Table], profile: Profile, *, skip: int
) -> Iterator[tuple[int, int, Normalized | None, bytes]]:
    """(index, rows read, normalized batch, its COPY text) for each batch, one batch ahead
    in a worker thread: pyarrow's kernels release the GIL, so parsing overlaps the database.
    Batches below `skip` are read (to keep line numbers) but not normalized."""

    def prepare(index: int, batch: pa.Table) -> tuple[int, int, Normalized | None, bytes]:
        if index < skip:
            return index, batch.num_rows, None, b""
        result = normalize(batch, profile)
        return index, batch.num_rows, result, stage_csv(result.rows)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pms-parse") as pool:
        ahead: Future[tuple[int, int, Normalized | None, bytes]] | None = None
        for index, batch in enumerate(batches):
            future = pool.submit(prepare, index, batch)
            if ahead is not None:
                yield ahead.result()
            ahead = future
        if ahead is not None:
            yield ahead.result()


def stage_csv(rows: pa.Table) -> bytes:
    """Normalized rows as the CSV that COPY reads into pms_stage. Strings are written quoted,
    so "" stays an empty string and a bare empty field is NULL."""
    buf = io.BytesIO()
    pacsv.write_csv(rows, buf, pacsv.WriteOptions(include_header=False))
    return buf.getvalue()


def store_statistics_refresh(*, store_sizes_only: bool = False) -> None:
    """Refresh what the planner knows of the claims tables a store's batch joins, after the
    store grew: ANALYZE samples a fixed number of rows whatever the table size. Run outside
    the batch transaction: ANALYZE's lock would otherwise be held until commit and serialize
    concurrent imports.

    `store_sizes_only`: only `location_id`, the column every table is filtered by (the
    stores' row estimates), in about a third of the time. Measured both ways on the same
    machine: the API push gains from it (one client 12,521 -> 12,935-13,331 fills/s, four
    stores at once 18,182 -> 23,466-26,536), the file import loses (1M rows in 45.5 and
    49.1 s instead of 40.4 s: the other columns' estimates go stale while 50,000-row
    batches keep arriving), so the file import analyzes every column."""
    columns = " (location_id)" if store_sizes_only else ""
    with connection.cursor() as cur:
        cur.execute(
            f"ANALYZE claims_patient{columns}, claims_prescription{columns}, claims_fill{columns}"
        )


class _Statistics:
    """Keeps the planner's row counts for this store current while an import grows it.

    A new store starts with no rows in the statistics, so without a fresh ANALYZE the
    planner keeps choosing nested loops over what it thinks is an empty store and the
    upserts slow down with every batch. Refreshing after the store's rows doubled costs a
    handful of `store_statistics_refresh()` per import."""

    def __init__(self) -> None:
        self.inserted = 0
        self.at_last_analyze = 0

    def after_batch(self, inserted: int) -> None:
        self.inserted += inserted
        if self.inserted > 2 * self.at_last_analyze and self.inserted >= ANALYZE_MIN_ROWS:
            store_statistics_refresh()
            self.at_last_analyze = self.inserted


def _load(rows: int, text: bytes, *, location_id: int | None, job_id: int) -> tuple[int, int]:
    loaded = batch_load(rows, text, location_id=location_id, job_id=job_id)
    return loaded.inserted, loaded.updated


@dataclass(frozen=True)
class Loaded:
    inserted: int
    updated: int
    # with `with_ids`: line -> id of each fill this batch wrote, and the ids it created
    # (the rest of `written` it changed); rows found unchanged are in neither
    written: Mapping[int, int] = field(default_factory=dict)
    created_ids: frozenset[int] = frozenset()


def batch_load(
    rows: int, text: bytes, *, location_id: int | None, job_id: int, with_ids: bool = False
) -> Loaded:
    """Stage one normalized batch (`stage_csv` of `normalize(...).rows`) and upsert it into
    the store's claims: the one write path of the file import and the push API. Runs in the
    caller's transaction (the staging table is dropped at commit)."""
    if rows == 0:
        return Loaded(0, 0)
    columns = ", ".join("line" if c == LINE else c for c in STAGE_COLUMNS)
    with connection.cursor() as cur:
        _run_sql(cur, "pms_stage.sql", {})
        with cur.copy(f"COPY pms_stage ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(text)
        params = {"location": location_id, "job": job_id, "with_ids": with_ids}
        _run_sql(cur, "pms_drop_unchanged.sql", params)
        if cur.rowcount == rows:
            # every row is stored as it is (a re-import): nothing to write. The upsert's
            # hash joins would still read all of the store's patients and prescriptions
            # (measured: 1.1 s for 5,000 unchanged fills of a 200,000-fill store).
            cur.execute("DROP TABLE pms_stage")
            return Loaded(0, 0)
        # a temp table has no statistics until analyzed; without them the planner guesses
        # one row and picks nested loops over the whole batch. Analyzed once the unchanged
        # rows are gone: the estimates are of the rows written.
        cur.execute("ANALYZE pms_stage (rx_number, fill_number, date_of_service, patient_id)")
        _run_sql(cur, "pms_upsert.sql", params)
        inserted, updated, rows_written = cur.fetchone()
        _run_sql(cur, "pms_mark_reversed.sql", params)
        cur.execute("DROP TABLE pms_stage")
    written = {int(line): int(fill_id) for line, fill_id, _ in rows_written or ()}
    created = frozenset(int(fill_id) for _, fill_id, new in rows_written or () if new)
    return Loaded(int(inserted), int(updated), written, created)


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
    # each batch commits its own problems with its checkpoint: add, never replace
    quarantine_record(job, problems)
