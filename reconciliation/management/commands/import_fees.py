"""python manage.py import_fees FILE [FILE ...] --org SLUG

Runs the same import as an upload of a PBM fee / DIR statement, in this process, one job
per file, and prints each job's summary. Exits non-zero when any file was rejected.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper

from reconciliation.services.fee_import import fee_import_path
from rxrevops.models import Job, Organization


def job_report(out: OutputWrapper, path: Path, job: Job, seconds: float) -> None:
    """A finished import job as the commands print it: status, counts, summary, the first
    quarantined rows."""
    out.write(f"{path.name}: {job.get_status_display()} (job #{job.pk}, {seconds:.2f} s)")
    c = job.counts
    if c:
        out.write(
            f"  read {c.get('read', 0)}, inserted {c.get('inserted', 0)}, updated "
            f"{c.get('updated', 0)}, unchanged {c.get('unchanged', 0)}, superseded "
            f"{c.get('superseded', 0)}, quarantined {c.get('quarantined', 0)}"
        )
    if job.message:
        out.write(f"  {job.message}")
    for e in job.errors[:20]:
        out.write(f"  line {e['line']}: {e['field']} = {e['value']!r}: {e['reason']}")


def organization_named(slug: str | None) -> Organization:
    """The organization `--org` names, or the only one there is."""
    if slug:
        try:
            return Organization.objects.get(slug=slug)
        except Organization.DoesNotExist:
            raise CommandError(f"No organization with slug {slug!r}") from None
    orgs = list(Organization.objects.all()[:2])
    if len(orgs) != 1:
        raise CommandError("Name the organization with --org SLUG.")
    return orgs[0]


class Command(BaseCommand):
    help = "Import PBM fee / DIR statements (docs/formats.md) for an organization."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", type=Path, nargs="+", metavar="FILE")
        parser.add_argument("--org", metavar="SLUG", help="default: the only organization")

    def handle(self, *args: Any, **opts: Any) -> None:
        organization = organization_named(opts["org"])
        rejected = []
        for path in opts["files"]:
            if not path.is_file():
                raise CommandError(f"No such file: {path}")
            started = time.perf_counter()
            job = fee_import_path(organization=organization, path=path)
            job_report(self.stdout, path, job, time.perf_counter() - started)
            if job.status == Job.Status.FAILED:
                rejected.append(path.name)
        if rejected:
            raise CommandError(f"Rejected: {', '.join(rejected)}")
