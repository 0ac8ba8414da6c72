"""What the fee-statement, NADAC and invoice imports share (`fee_import`, `cost_import`):
upload -> stored file -> job on the ingest queue -> the whole file read and checked by a
pure reader (`reconciliation.ingest`) -> one database transaction that stages the good rows
with COPY and upserts them on their real-world key.

A file that cannot be read as a whole fails its job and writes nothing. A bad row is
quarantined with its line, column, value and reason; the others load. The file loads in
one transaction, so a worker that dies mid-file leaves nothing and its retry redoes the
file from the start; rows equal to the stored ones are not written, so the same file again
changes nothing and says so."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from django.contrib.auth.models import User
from django.db import connection, transaction

from reconciliation.ingest.table import LINE, FileRejected, ReadResult, RowProblem
from rxrevops.models import ImportFile, Job, Location, Organization
from rxrevops.services.imports import import_file_path, import_file_store, quarantine_record
from rxrevops.services.jobs import JobFailed, Progress, job_create

COUNT_KEYS = ("read", "inserted", "updated", "unchanged", "superseded", "quarantined")


def input_import_create(
    *,
    kind: str,
    label: str,
    organization: Organization,
    location: Location | None,
    stream: IO[bytes],
    original_name: str,
    uploaded_by: User | None,
    enqueue: bool,
) -> Job:
    """Store the file and queue its job of `kind` (or leave it to the caller to run with
    `job_execute`). The job remembers an earlier successful import of the same bytes, for
    the "same file" message."""
    if location is not None and location.organization_id != organization.pk:
        raise ValueError("The store is not in the organization")
    with transaction.atomic():
        stored = import_file_store(
            organization=organization,
            location=location,
            kind=kind,
            stream=stream,
            original_name=original_name,
            uploaded_by=uploaded_by,
        )
        earlier = (
            Job.objects.filter(
                kind=kind,
                organization=organization,
                location=location,
                status=Job.Status.SUCCEEDED,
                params__sha256=stored.sha256,
            )
            .order_by("pk")
            .first()
        )
        return job_create(
            organization=organization,
            location=location,
            kind=kind,
            label=f"{label} {stored.original_name}",
            params={
                "import_file": stored.pk,
                "sha256": stored.sha256,
                "same_as_job": earlier.pk if earlier else None,
            },
            created_by=uploaded_by,
            enqueue=enqueue,
        )


def input_file_read(job: Job, reader: Callable[..., ReadResult]) -> tuple[ImportFile, ReadResult]:
    """The job's stored file through `reader`; a file refused whole fails the job."""
    stored = ImportFile.objects.get(pk=job.params["import_file"])
    try:
        kwargs = {"batch_rows": int(job.params["batch_rows"])} if "batch_rows" in job.params else {}
        result = reader(import_file_path(stored), **kwargs)
    except FileRejected as exc:
        raise JobFailed(
            f"{stored.original_name} was rejected and nothing from it was loaded: {exc}"
        ) from None
    return stored, result


def stores_matched(
    rows: pa.Table,
    *,
    column: str,
    stores: Mapping[str, int],
    problems: list[RowProblem],
    reason: Callable[[str], str],
) -> pa.Table:
    """`rows` with a `location_id` for the NCPDP in `column`; a row naming no store in
    `stores` becomes a problem (`reason(ncpdp)`) and is left out."""
    index = pc.index_in(rows.column(column), value_set=pa.array(list(stores), pa.string()))
    ids = pc.take(pa.array(list(stores.values()), pa.int64()), index)
    unknown = ids.is_null()
    if pc.any(unknown).as_py():
        lost = rows.filter(unknown)
        for line, ncpdp in zip(
            lost.column(LINE).to_pylist(), lost.column(column).to_pylist(), strict=True
        ):
            problems.append(RowProblem(int(line), column, ncpdp, reason(ncpdp)))
    known = pc.invert(unknown)
    return rows.filter(known).append_column("location_id", ids.filter(known))


def rows_upsert(
    *,
    table: str,
    rows: pa.Table,
    columns: Mapping[str, str],
    key: Sequence[str],
    fixed: Mapping[str, str],
    params: Mapping[str, Any],
    guard: str = "",
) -> tuple[int, int, int, int]:
    """Upsert `rows` (its `columns`: name -> SQL type) into `table` on `key`, with `fixed`
    columns (name -> SQL expression) on every row written. A stored row with equal values
    is left alone (unchanged); `guard`, a condition on the stored row `t` and the new one
    `EXCLUDED`, may refuse an update (the row is then counted as kept). Returns (inserted,
    updated, unchanged, kept)."""
    if rows.num_rows == 0:
        return 0, 0, 0, 0
    stage = f"{table}_stage"
    names = list(columns)
    values = [n for n in names if n not in key]
    quoted = {n: f'"{n}"' for n in [*names, *fixed]}
    with connection.cursor() as cur:
        cur.execute(
            f"CREATE TEMP TABLE {stage} ("
            + ", ".join(f"{quoted[n]} {t}" for n, t in columns.items())
            + ") ON COMMIT DROP"
        )
        buf = io.BytesIO()
        # strings are written quoted, so "" stays an empty string and a bare empty is NULL
        pacsv.write_csv(rows.select(names), buf, pacsv.WriteOptions(include_header=False))
        with cur.copy(
            f"COPY {stage} ({', '.join(quoted[n] for n in names)}) FROM STDIN WITH (FORMAT csv)"
        ) as copy:
            copy.write(buf.getvalue())
        staged = rows.num_rows
        on_key = " AND ".join(f"t.{quoted[k]} = s.{quoted[k]}" for k in key)
        same = (
            f"({', '.join(f't.{quoted[n]}' for n in values)}) IS NOT DISTINCT FROM "
            f"({', '.join(f's.{quoted[n]}' for n in values)})"
        )
        cur.execute(f"DELETE FROM {stage} s USING {table} t WHERE {on_key} AND {same}")  # noqa: S608
        unchanged = cur.rowcount
        target = [*names, *fixed]
        changed = (
            f"({', '.join(f't.{quoted[n]}' for n in values)}) IS DISTINCT FROM "
            f"({', '.join(f'EXCLUDED.{quoted[n]}' for n in values)})"
        )
        updates = [n for n in [*values, *fixed] if n != "organization_id"]
        cur.execute(
            f"""WITH written AS (
                INSERT INTO {table} AS t ({", ".join(quoted[n] for n in target)})
                SELECT {", ".join(fixed.get(n) or f"s.{quoted[n]}" for n in target)}
                FROM {stage} s ORDER BY {", ".join(f"s.{quoted[k]}" for k in key)}
                ON CONFLICT ({", ".join(quoted[k] for k in key)}) DO UPDATE SET
                    {", ".join(f"{quoted[n]} = EXCLUDED.{quoted[n]}" for n in updates)}
                WHERE {changed}{f" AND ({guard})" if guard else ""}
                RETURNING (xmax = 0) AS inserted
            )
            SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)
            FROM written""",  # noqa: S608
            params,
        )
        inserted, updated = cur.fetchone()
        cur.execute(f"DROP TABLE {stage}")
    kept = staged - unchanged - int(inserted) - int(updated)
    if not guard:  # equal rows another import committed meanwhile: unchanged all the same
        unchanged, kept = unchanged + kept, 0
    return int(inserted), int(updated), unchanged, kept


def input_import_finish(
    job: Job,
    progress: Progress,
    *,
    result: ReadResult,
    problems: list[RowProblem],
    written: tuple[int, int, int, int],
    noun: str,
) -> dict[str, int]:
    """Record the counts, the quarantine (replacing an earlier attempt's) and the summary."""
    inserted, updated, unchanged, kept = written
    counts = {
        "read": result.read,
        "inserted": inserted,
        "updated": updated,
        "unchanged": unchanged,
        "superseded": result.superseded + kept,
        "quarantined": len({p.line for p in problems}),
    }
    quarantine_record(job, sorted(problems, key=lambda p: p.line), replace=True)
    job.message = _summary(job, counts, noun)
    Job.objects.filter(pk=job.pk).update(message=job.message)
    progress.set_total(result.read)
    progress.advance(result.read, **counts)
    return counts


def _summary(job: Job, counts: dict[str, int], noun: str) -> str:
    if counts["inserted"] == counts["updated"] == 0:
        same = job.params.get("same_as_job")
        head = (
            f"Same file as job #{same}: nothing changed" if same else "Nothing changed"
        ) + f" ({counts['unchanged']} {noun} already up to date)"
    else:
        head = (
            f"{counts['inserted']} {noun} added, {counts['updated']} updated, "
            f"{counts['unchanged']} already up to date"
        )
    if counts["superseded"]:
        head += (
            f"; {counts['superseded']} row(s) left out: a later publication of the same "
            "price is loaded"
        )
    if counts["quarantined"]:
        head += f"; {counts['quarantined']} row(s) quarantined for correction"
    return head + "."
