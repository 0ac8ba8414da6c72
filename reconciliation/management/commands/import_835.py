"""python manage.py import_835 FILE [FILE ...] --org SLUG

Runs the same import as an upload, in this process, one job per file, and prints each
job's summary. Exits non-zero when any file was rejected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reconciliation.services.remit_import import remit_import_path
from rxrevops.models import Job, Organization


class Command(BaseCommand):
    help = "Import X12 835 remittance files for an organization (payees name the stores)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", type=Path, nargs="+", metavar="FILE")
        parser.add_argument("--org", required=True, metavar="SLUG")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            organization = Organization.objects.get(slug=opts["org"])
        except Organization.DoesNotExist:
            raise CommandError(f"No organization with slug {opts['org']!r}") from None
        rejected = []
        for path in opts["files"]:
            if not path.is_file():
                raise CommandError(f"No such file: {path}")
            job = remit_import_path(organization=organization, path=path)
            self.stdout.write(f"{path.name}: {job.get_status_display()} (job #{job.pk})")
            if job.message:
                self.stdout.write(f"  {job.message}")
            for e in job.errors[:20]:
                self.stdout.write(f"  {e['where']}: {e['field']} {e['reason']}")
            if job.status == Job.Status.FAILED:
                rejected.append(path.name)
        if rejected:
            raise CommandError(f"Rejected: {', '.join(rejected)}")
