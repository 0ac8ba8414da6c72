"""python manage.py import_pms FILE --location NCPDP [--profile NAME]

Runs the same import as an upload, in this process, and prints the job's summary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from claims.ingest.profiles import all_profiles
from claims.services.pms_import import pms_import_path
from rxrevops.models import Job, Location


class Command(BaseCommand):
    help = "Import a PMS dispensing/claims export (CSV or XLSX) for one location."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--location", required=True, metavar="NCPDP")
        parser.add_argument("--profile", choices=sorted(all_profiles()), default="")

    def handle(self, *args: Any, **opts: Any) -> None:
        path: Path = opts["file"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            location = Location.objects.select_related("organization").get(
                ncpdp_id=opts["location"]
            )
        except Location.DoesNotExist:
            raise CommandError(f"No location with NCPDP {opts['location']}") from None
        job = pms_import_path(location=location, path=path, profile=opts["profile"])
        c = job.counts
        self.stdout.write(
            f"{path.name} -> {location.name}: {job.get_status_display()} (job #{job.pk})"
        )
        if c:
            self.stdout.write(
                f"  profile {c.get('profile', '?')}; read {c.get('read', 0)}, inserted "
                f"{c.get('inserted', 0)}, updated {c.get('updated', 0)}, unchanged "
                f"{c.get('unchanged', 0)}, quarantined {c.get('quarantined', 0)}"
            )
        if job.message:
            self.stdout.write(f"  {job.message}")
        for e in job.errors[:20]:
            self.stdout.write(f"  line {e['line']}: {e['field']} = {e['value']!r}: {e['reason']}")
        if job.status == Job.Status.FAILED:
            raise CommandError(job.message)
