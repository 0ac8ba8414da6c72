"""Immunization file import: upload -> stored file -> job on the ingest queue -> rows checked
(`clinical.ingest.immunizations`) -> stores and patients matched -> doses upserted.

The file names its stores (`pharmacy_ncpdp`), so it is uploaded for the organization, like
an 835. A structurally broken file fails the job and writes nothing; a bad row (bad value,
expired lot, CVX/MVX mismatch, unknown store or patient) is quarantined with its line, field,
value and reason, and the other rows load.

The file loads in one transaction (a pharmacy's immunization file is small): a worker that
dies mid-file leaves nothing behind and the retry redoes it from the start. Doses are
upserted on their natural key (store, patient, CVX, date, lot), so the same file again
changes nothing and says so.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import IO, Any, NamedTuple

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from claims.ingest.read import FileRejected, RowProblem
from claims.models import Patient
from clinical.ingest.immunizations import DoseRow, read_immunizations
from clinical.models import Immunization
from clinical.services.billing import clinical_claim_for_immunization
from clinical.services.immunizations import IMMUNIZATION_ROLES
from clinical.services.registry import registry_messages_enqueue
from rxrevops.models import ImportFile, Job, Location, Organization, Scope
from rxrevops.services.imports import (
    ImportKind,
    import_file_path,
    import_file_store,
    import_kind_register,
    import_run_here,
    quarantine_record,
)
from rxrevops.services.jobs import (
    JobFailed,
    Progress,
    job_create,
    job_handler,
)

KIND = "immunizations"
COUNT_KEYS = ("read", "inserted", "updated", "unchanged", "quarantined")
# the fields a re-sent row may correct; the key fields and who recorded it stay
FILE_FIELDS = (
    "mvx",
    "vaccine",
    "expiration",
    "dose_ml",
    "site",
    "route",
    "vis_edition_date",
    "vis_given_on",
    "administering_npi",
    "funding_eligibility",
    "billed_cents",
)
# pg advisory-lock namespace: one immunization import per organization at a time, so two
# uploads of overlapping files cannot both insert the same dose
_LOCK_NAMESPACE = 7301
# and per patient for inbound messages, which take the organization's lock shared
_PATIENT_LOCK_NAMESPACE = 7302


def immunization_import_create(
    *,
    organization: Organization,
    stream: IO[bytes],
    original_name: str,
    location: Location | None = None,
    profile: str = "",
    uploaded_by: User | None = None,
    enqueue: bool = True,
) -> Job:
    """Store an immunization file and queue its import. The file names its stores, so no
    location is asked for; `location` and `profile` are accepted for the shared upload
    signature and ignored."""
    with transaction.atomic():
        stored = import_file_store(
            organization=organization,
            location=None,
            kind=ImportFile.Kind.IMMUNIZATIONS,
            stream=stream,
            original_name=original_name,
            uploaded_by=uploaded_by,
        )
        earlier = (
            Job.objects.filter(
                kind=KIND,
                organization=organization,
                status=Job.Status.SUCCEEDED,
                params__sha256=stored.sha256,
            )
            .order_by("pk")
            .first()
        )
        return job_create(
            organization=organization,
            kind=KIND,
            label=f"Immunizations {stored.original_name}",
            params={
                "import_file": stored.pk,
                "sha256": stored.sha256,
                "same_as_job": earlier.pk if earlier else None,
            },
            created_by=uploaded_by,
            enqueue=enqueue,
        )


def immunization_import_path(*, organization: Organization, path: Path) -> Job:
    """Import an immunization file from disk in this process (the command, the demo seed)."""
    return import_run_here(immunization_import_create, path=path, organization=organization)


import_kind_register(
    ImportKind(
        name=KIND,
        label="Immunization records",
        description=(
            "CSV of doses given (clinical/immunizations.csv in docs/formats.md), one file for "
            "the organization: each row names its store by NCPDP."
        ),
        per_location=False,
        scope=Scope.CLINICAL_WRITE,
        roles=IMMUNIZATION_ROLES,
        create=immunization_import_create,
    )
)


@job_handler(KIND, queue="ingest")
def immunization_import_run(job: Job, progress: Progress) -> dict[str, Any]:
    stored = ImportFile.objects.get(pk=job.params["import_file"])
    try:
        result = read_immunizations(import_file_path(stored), today=timezone.localdate())
    except FileRejected as exc:
        raise JobFailed(
            f"{stored.original_name} was rejected and nothing from it was loaded: {exc}"
        ) from None
    progress.set_total(result.read)
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, job.organization_id]
            )
        problems = list(result.problems)
        doses = _matched(job.organization_id, result.rows, problems)
        inserted, updated, unchanged, _ = _upsert(job.organization_id, doses)
        bad_lines = result.bad_lines | {p.line for p in problems}
        counts = {
            "read": result.read,
            "inserted": inserted,
            "updated": updated,
            "unchanged": unchanged,
            "quarantined": len(bad_lines),
        }
        _quarantine(job, problems)
        job.message = _summary(job, counts)
        Job.objects.filter(pk=job.pk).update(message=job.message)
        progress.advance(result.read, **counts)
    return counts


def _matched(
    organization_id: int, rows: list[DoseRow], problems: list[RowProblem]
) -> list[tuple[DoseRow, int, int]]:
    """(dose, location id, patient id) for each row whose store and patient are known; the
    others, and a second row for a dose already in the file, become problems."""
    stores = dict(
        Location.objects.filter(organization_id=organization_id).values_list("ncpdp_id", "pk")
    )
    wanted = {r.patient_id for r in rows if r.pharmacy_ncpdp in stores}
    patients = {
        (loc, pms_id): pk
        for pk, loc, pms_id in Patient.objects.filter(
            location_id__in=stores.values(), pms_patient_id__in=wanted
        ).values_list("pk", "location_id", "pms_patient_id")
    }
    matched: list[tuple[DoseRow, int, int]] = []
    first_line: dict[tuple[str, str, str, date, str], int] = {}
    for row in rows:
        location_id = stores.get(row.pharmacy_ncpdp)
        if location_id is None:
            problems.append(
                RowProblem(
                    row.line,
                    "pharmacy_ncpdp",
                    row.pharmacy_ncpdp,
                    "No store of this organization has this NCPDP id.",
                )
            )
            continue
        patient_id = patients.get((location_id, row.patient_id))
        if patient_id is None:
            problems.append(
                RowProblem(
                    row.line,
                    "patient_id",
                    row.patient_id,
                    f"No patient with this id at store {row.pharmacy_ncpdp}: import the "
                    "store's PMS export first.",
                )
            )
            continue
        if row.key in first_line:
            problems.append(
                RowProblem(
                    row.line,
                    "lot",
                    row.lot,
                    f"The same dose (store, patient, CVX, date, lot) as line "
                    f"{first_line[row.key]}.",
                )
            )
            continue
        first_line[row.key] = row.line
        matched.append((row, location_id, patient_id))
    return matched


class DosesUpserted(NamedTuple):
    inserted: int
    updated: int
    unchanged: int
    # (location id, patient id, CVX, administered on, lot) -> the stored dose's id, for every
    # dose given (inserted, corrected or found unchanged)
    ids: dict[tuple[int, int, str, date, str], int]


def immunization_doses_upsert(
    *, organization_id: int, doses: list[tuple[DoseRow, int, int]]
) -> DosesUpserted:
    """Upsert checked doses, each with its (location id, patient id), the way a file's rows
    are (natural key, registry send and billing for new doses), under the same per-
    organization lock as the file import (shared between messages, with a lock per patient);
    for inbound interfaces (HL7 VXU). Returns the counts and each dose's id. The caller's
    transaction holds the locks until it ends."""
    with connection.cursor() as cur:
        # shared with other messages, exclusive of a file import: messages about different
        # patients write at once (a VXU holds one patient's doses); a file waits for them
        cur.execute(
            "SELECT pg_advisory_xact_lock_shared(%s, %s)", [_LOCK_NAMESPACE, organization_id]
        )
        for patient_id in sorted({p for _, _, p in doses}):
            cur.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)",
                [_PATIENT_LOCK_NAMESPACE, patient_id & 0x7FFFFFFF],
            )
    return _upsert(organization_id, doses)


def _upsert(organization_id: int, doses: list[tuple[DoseRow, int, int]]) -> DosesUpserted:
    """Insert new doses, correct changed ones, leave equal ones alone."""
    existing = {
        (imm.location_id, imm.patient_id, imm.cvx, imm.administered_on, imm.lot): imm
        for imm in Immunization.objects.filter(
            organization_id=organization_id, patient_id__in={p for _, _, p in doses}
        )
    }
    new: list[Immunization] = []
    changed: list[Immunization] = []
    unchanged = 0
    stored: dict[tuple[int, int, str, date, str], Immunization] = {}  # each dose given
    for row, location_id, patient_id in doses:
        values = {f: getattr(row, f) for f in FILE_FIELDS}
        key = (location_id, patient_id, row.cvx, row.administered_on, row.lot)
        current = existing.get(key)
        if current is None:
            current = Immunization(
                organization_id=organization_id,
                location_id=location_id,
                patient_id=patient_id,
                administered_on=row.administered_on,
                cvx=row.cvx,
                lot=row.lot,
                **values,
            )
            new.append(current)
        elif any(getattr(current, f) != v for f, v in values.items()):
            for f, v in values.items():
                setattr(current, f, v)
            changed.append(current)
        else:
            unchanged += 1
        stored[key] = current
    Immunization.objects.bulk_create(new)
    Immunization.objects.bulk_update(changed, FILE_FIELDS)
    # new doses go to the state registry; the sends are queued once the file has committed
    registry_messages_enqueue(immunizations=new)
    # each dose is billed; a corrected dose re-prices a claim not yet sent (a dose created
    # just now has no claim yet: nothing to look up)
    for imm in new:
        clinical_claim_for_immunization(imm, created=True)
    for imm in changed:
        clinical_claim_for_immunization(imm)
    ids = {key: imm.pk for key, imm in stored.items()}  # the new ones' set by bulk_create
    return DosesUpserted(len(new), len(changed), unchanged, ids)


def _quarantine(job: Job, problems: list[RowProblem]) -> None:
    """Replace the job's quarantine (a retry reads the whole file and writes the same rows)."""
    quarantine_record(job, sorted(problems, key=lambda p: p.line), replace=True)


def _summary(job: Job, counts: dict[str, int]) -> str:
    loaded = counts["inserted"] + counts["updated"] + counts["unchanged"]
    if counts["inserted"] == counts["updated"] == 0:
        same = job.params.get("same_as_job")
        head = (
            f"Same file as job #{same}: nothing changed" if same else "Nothing changed"
        ) + f" ({loaded} dose(s) already up to date)"
    else:
        head = (
            f"{counts['inserted']} dose(s) added, {counts['updated']} corrected, "
            f"{counts['unchanged']} already up to date"
        )
    if counts["quarantined"]:
        head += f"; {counts['quarantined']} row(s) quarantined for correction"
    return head + "."
