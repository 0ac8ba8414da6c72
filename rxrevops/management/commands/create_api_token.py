"""python manage.py create_api_token --org SLUG [--location NCPDP ...] [--scope S ...]

Prints the new key on its last line, so scripts can take `| tail -n 1`.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from rxrevops.models import Location, Organization, Scope
from rxrevops.services.tokens import api_token_create


class Command(BaseCommand):
    help = "Issue an integration API token for an organization (key printed on the last line)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument(
            "--location",
            action="append",
            default=[],
            metavar="NCPDP",
            help="limit to this location (repeatable); default: every location",
        )
        parser.add_argument(
            "--scope",
            action="append",
            required=True,
            choices=Scope.values,
            help="grant this scope (repeatable); at least one",
        )
        parser.add_argument("--name", default="Command-line token")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            org = Organization.objects.get(slug=opts["org"])
        except Organization.DoesNotExist:
            known = ", ".join(Organization.objects.values_list("slug", flat=True)) or "none"
            raise CommandError(f"No organization {opts['org']!r}. Known: {known}") from None
        locations = list(Location.objects.filter(ncpdp_id__in=opts["location"], organization=org))
        missing = set(opts["location"]) - {loc.ncpdp_id for loc in locations}
        if missing:
            raise CommandError(f"Not locations of {org.slug}: {', '.join(sorted(missing))}")
        try:
            issued = api_token_create(
                organization=org,
                name=opts["name"],
                scopes=opts["scope"],
                locations=locations,
                actor_label="manage.py create_api_token",
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        token = issued.token
        where = ", ".join(loc.ncpdp_id for loc in locations) or "all locations"
        self.stderr.write(
            f"Token {token.prefix} for {org.slug} ({where}); scopes: {', '.join(token.scopes)}"
        )
        self.stdout.write(issued.key)
