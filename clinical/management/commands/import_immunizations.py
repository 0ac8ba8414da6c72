"""python manage.py import_immunizations FILE --org SLUG

Runs the same import as an upload, in this process, and prints the job's summary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from clinical.services.immunization_import import immunization_import_path
from rxrevops.models import Job, Organization


class Command(BaseCommand):
    help = "Import an immunization records CSV (docs/formats.md) for an organization."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--org", required=True, metavar="SLUG")

    def handle(self, *args: Any, **opts: Any) -> None:
        path: Path = opts["file"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            organization = Organization.objects.get(slug=opts["org"])
        except Organization.DoesNotExist:
            raise CommandError(f"No organization with slug {opts['org']!r}") from None
        job = immunization_import_path(organization=organization, path=path)
        c = job.counts
        self.stdout.write(
            f"{path.name} -> {organization.name}: {job.get_status_display()} (job #{job.pk})"
        )
        if c:
            self.stdout.write(
                f"  read {c.get('read', 0)}, inserted {c.get('inserted', 0)}, updated "
                f"{c.get('updated', 0)}, unchanged {c.get('unchanged', 0)}, quarantined "
                f"{c.get('quarantined', 0)}"
            )
        if job.message:
            self.stdout.write(f"  {job.message}")
        for e in job.errors[:20]:
            self.stdout.write(f"  line {e['line']}: {e['field']} = {e['value']!r}: {e['reason']}")
        if job.status == Job.Status.FAILED:
            raise CommandError(job.message)
