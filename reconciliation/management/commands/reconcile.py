"""python manage.py reconcile [--org SLUG] [--as-of DATE]: rebuild the per-claim results."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reconciliation.services.runs import reconcile_now
from rxrevops.models import Organization


class Command(BaseCommand):
    help = "Match every claim to what was paid for it and rebuild the per-claim results."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", help="organization slug (default: every organization)")
        parser.add_argument("--as-of", type=date.fromisoformat, help="YYYY-MM-DD (default today)")

    def handle(self, *args: Any, **opts: Any) -> None:
        orgs = Organization.objects.filter(locations__isnull=False).distinct().order_by("slug")
        if opts["org"]:
            orgs = orgs.filter(slug=opts["org"])
            if not orgs:
                raise CommandError(f"No organization with stores has the slug {opts['org']!r}.")
        as_of = opts["as_of"] or date.today()
        for org in orgs:
            job = reconcile_now(organization=org, as_of=as_of)
            if job.status != "succeeded":
                raise CommandError(f"{org.slug}: {job.message}")
            c = job.counts
            statuses = ", ".join(
                f"{k.removeprefix('status_')} {v:,}"
                for k, v in c.items()
                if k.startswith("status_")
            )
            self.stdout.write(
                f"{org.slug}: {c['claims']:,} claims reconciled as of {as_of} ({statuses}); "
                f"{c['unmatched_payments']:,} payments unmatched; "
                f"remitted {c['remitted_cents']:,} = matched {c['matched_cents']:,} + "
                f"unmatched {c['unmatched_cents']:,} cents"
            )
