"""python manage.py import_costs FILE [FILE ...] --kind nadac|acquisition [--location NCPDP]
[--org SLUG]

Runs the same import as an upload, in this process, one job per file, and prints each
job's summary. NADAC prices are national; the job is filed under `--org` (default: the only
organization). Invoices go to the store `--location` names, or else the one their file name
names (invoices-<ncpdp>-<YYYY-MM>.csv). Exits non-zero when any file was rejected.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reconciliation.management.commands.import_fees import job_report, organization_named
from reconciliation.services.cost_import import acquisition_import_path, nadac_import_path
from rxrevops.models import Job, Location, Organization

_NCPDP_IN_NAME = re.compile(r"invoices-(\d{7})-")


class Command(BaseCommand):
    help = "Import NADAC reference prices or a store's wholesaler invoices (docs/formats.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", type=Path, nargs="+", metavar="FILE")
        parser.add_argument("--kind", required=True, choices=["nadac", "acquisition"])
        parser.add_argument("--location", metavar="NCPDP", help="the store (acquisition)")
        parser.add_argument("--org", metavar="SLUG", help="default: the only organization")

    def handle(self, *args: Any, **opts: Any) -> None:
        organization = organization_named(opts["org"]) if opts["kind"] == "nadac" else None
        rejected = []
        for path in opts["files"]:
            if not path.is_file():
                raise CommandError(f"No such file: {path}")
            started = time.perf_counter()
            if organization is not None:
                job = nadac_import_path(organization=organization, path=path)
            else:
                location = _store(path, opts["location"], opts["org"])
                job = acquisition_import_path(location=location, path=path)
            job_report(self.stdout, path, job, time.perf_counter() - started)
            if job.status == Job.Status.FAILED:
                rejected.append(path.name)
        if rejected:
            raise CommandError(f"Rejected: {', '.join(rejected)}")


def _store(path: Path, ncpdp: str | None, slug: str | None) -> Location:
    if not ncpdp:
        named = _NCPDP_IN_NAME.search(path.name)
        if named is None:
            raise CommandError(f"{path.name}: name the store with --location NCPDP.")
        ncpdp = named.group(1)
    stores = Location.objects.filter(ncpdp_id=ncpdp)
    if slug:
        stores = stores.filter(organization__in=Organization.objects.filter(slug=slug))
    store = stores.select_related("organization").first()
    if store is None:
        raise CommandError(f"No store with NCPDP {ncpdp}" + (f" in {slug!r}." if slug else "."))
    return store
