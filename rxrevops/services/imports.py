"""Storing uploaded originals. Each app turns a stored file into a job of its own kind."""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from django.conf import settings
from django.contrib.auth.models import User

from rxrevops.models import ImportFile, Job, Location, Organization, QuarantinedRow
from rxrevops.services.jobs import MAX_STORED_ERRORS, job_execute

MAX_UPLOAD_BYTES = 512 * 1024 * 1024


class UploadRefused(ValueError):
    pass


def import_file_store(
    *,
    organization: Organization,
    location: Location | None,
    kind: str,
    stream: IO[bytes],
    original_name: str,
    profile: str = "",
    uploaded_by: User | None = None,
) -> ImportFile:
    """Copy the upload to MEDIA_ROOT/imports/<org>/<sha256> while hashing it, and record it.
    The stored name is the content hash, never the client's file name."""
    root = Path(settings.MEDIA_ROOT) / "imports" / str(organization.pk)
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with tempfile.NamedTemporaryFile(dir=root, delete=False) as tmp:
        while chunk := stream.read(1 << 20):
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                tmp.close()
                Path(tmp.name).unlink()
                raise UploadRefused(
                    f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB."
                )
            digest.update(chunk)
            tmp.write(chunk)
    if size == 0:
        Path(tmp.name).unlink()
        raise UploadRefused("The file is empty.")
    sha = digest.hexdigest()
    target = root / sha
    if target.exists():
        Path(tmp.name).unlink()
    else:
        shutil.move(tmp.name, target)
    safe_name = re.sub(r"[^\w.\- ]+", "_", Path(original_name).name)[:255] or "upload"
    return ImportFile.objects.create(
        organization=organization,
        location=location,
        kind=kind,
        original_name=safe_name,
        stored_path=str(target.relative_to(settings.MEDIA_ROOT)),
        sha256=sha,
        size=size,
        profile=profile,
        uploaded_by=uploaded_by,
    )


def import_file_path(import_file: ImportFile) -> Path:
    return Path(settings.MEDIA_ROOT) / import_file.stored_path


# --- import kinds -------------------------------------------------------------------------
# The upload page, the API and the job pages know import kinds only through this registry:
# each app registers the kinds it loads (claims: PMS exports; reconciliation: 835s, ...).


class ImportCreate(Protocol):
    def __call__(
        self,
        *,
        organization: Organization,
        location: Location | None,
        stream: IO[bytes],
        original_name: str,
        profile: str,
        uploaded_by: User | None,
    ) -> Job: ...


@dataclass(frozen=True)
class ImportKind:
    name: str  # the job kind and the API's `kind`
    label: str  # "PMS export", "835 remittance"
    description: str  # one sentence for the upload page
    per_location: bool  # True: the uploader names the store; False: the file names them
    scope: str  # API scope needed to upload it
    roles: tuple[str, ...]  # roles that may upload it (org-wide only when not per_location)
    create: ImportCreate


IMPORT_KINDS: dict[str, ImportKind] = {}


def import_kind_register(kind: ImportKind) -> ImportKind:
    IMPORT_KINDS[kind.name] = kind
    return kind


def import_kind_get(name: str) -> ImportKind:
    try:
        return IMPORT_KINDS[name]
    except KeyError:
        raise ValueError(f"Unknown import kind {name!r}") from None


def import_run_here(create: Callable[..., Job], *, path: Path, **kwargs: Any) -> Job:
    """Store a file from disk with an import kind's `create` and run its job in this process
    (the management commands, the demo seed); returns the finished job."""
    with path.open("rb") as fh:
        job = create(stream=fh, original_name=path.name, enqueue=False, **kwargs)
    job_execute(job_id=job.pk)
    job.refresh_from_db()
    return job


class Problem(Protocol):
    """A row an importer could not load: where, which field, what it held, why."""

    line: int
    column: str
    value: str
    reason: str

    def as_dict(self) -> dict[str, Any]: ...


def quarantine_record(job: Job, problems: Sequence[Problem], *, replace: bool = False) -> None:
    """Keep the rows an import could not load on its job: `QuarantinedRow`s for the errors
    page and CSV, and the first errors on the job row. `replace` starts the job's quarantine
    over (an importer whose retry reads the whole file again); otherwise the rows are added
    (an importer that checkpoints batch by batch)."""
    if replace:
        QuarantinedRow.objects.filter(job=job).delete()
    elif not problems:
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
    earlier = [] if replace else list(job.errors)
    job.errors = (earlier + [p.as_dict() for p in problems])[:MAX_STORED_ERRORS]
    job.error_count = len(problems) + (0 if replace else job.error_count)
    Job.objects.filter(pk=job.pk).update(errors=job.errors, error_count=job.error_count)
