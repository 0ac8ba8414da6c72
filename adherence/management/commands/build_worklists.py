"""python manage.py build_worklists [--org SLUG] [--as-of YYYY-MM-DD]

Runs the same build as beat and the after-import trigger, in this process, and prints what
it produced per organization.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from adherence.services.build import worklists_build_now
from rxrevops.models import Job, Organization


class Command(BaseCommand):
    help = "Rebuild PDC results, rates and technician worklists."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", metavar="SLUG", help="one organization (default: all)")
        parser.add_argument("--as-of", type=date.fromisoformat, help="default: today")

    def handle(self, *args: Any, **opts: Any) -> None:
        orgs = Organization.objects.filter(locations__isnull=False).distinct().order_by("pk")
        if opts["org"]:
            orgs = orgs.filter(slug=opts["org"])
            if not orgs.exists():
                raise CommandError(f"No organization with stores has the slug {opts['org']!r}")
        as_of: date = opts["as_of"] or timezone.localdate()
        failed = []
        for org in orgs:
            job = worklists_build_now(organization=org, as_of=as_of)
            c = job.counts
            self.stdout.write(
                f"{org.name} as of {as_of}: {job.get_status_display()} (job #{job.pk})"
            )
            if job.status == Job.Status.SUCCEEDED:
                self.stdout.write(
                    f"  {c.get('fills', 0):,} fills; {c.get('measure_results', 0):,} measure "
                    f"results; {c.get('refill_items', 0):,} refills, "
                    f"{c.get('med_sync_items', 0):,} med-sync calls, "
                    f"{c.get('care_gap_items', 0):,} care gaps; "
                    f"{c.get('resolved_items', 0):,} items no longer due"
                )
                if c.get("unknown_ndcs"):
                    self.stdout.write(
                        f"  {c['unknown_ndcs']} NDCs are in no value set (not counted)"
                    )
            else:
                self.stdout.write(f"  {job.message}")
                failed.append(org.slug)
        if failed:
            raise CommandError(f"Build failed for {', '.join(failed)}")
