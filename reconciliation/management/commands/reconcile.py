"""python manage.py reconcile [--org SLUG] [--as-of DATE] [--since DATE] [--full]: bring the
per-claim results up to date (incrementally: what changed since the last run; with --since,
also every claim dated from that day; with --full, everything)."""

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
        parser.add_argument(
            "--since",
            type=date.fromisoformat,
            help="YYYY-MM-DD: also rebuild every claim dated from this day on",
        )
        parser.add_argument(
            "--full", action="store_true", help="rebuild every claim (gives the same rows)"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        orgs = Organization.objects.filter(locations__isnull=False).distinct().order_by("slug")
        if opts["org"]:
            orgs = orgs.filter(slug=opts["org"])
            if not orgs:
                raise CommandError(f"No organization with stores has the slug {opts['org']!r}.")
        as_of = opts["as_of"] or date.today()
        for org in orgs:
            job = reconcile_now(
                organization=org, as_of=as_of, full=opts["full"], since=opts["since"]
            )
            if job.status != "succeeded":
                raise CommandError(f"{org.slug}: {job.message}")
            c = job.counts
            statuses = ", ".join(
                f"{k.removeprefix('status_')} {v:,}"
                for k, v in c.items()
                if k.startswith("status_")
            )
            self.stdout.write(
                f"{org.slug}: {c['claims']:,} claims reconciled as of {as_of} "
                + (f"({c['rebuilt']:,} rebuilt incrementally) " if c.get("incremental") else "")
                + f"({statuses}); "
                f"{c['unmatched_payments']:,} payments unmatched; "
                f"remitted {c['remitted_cents']:,} = matched {c['matched_cents']:,} + "
                f"unmatched {c['unmatched_cents']:,} cents"
            )
