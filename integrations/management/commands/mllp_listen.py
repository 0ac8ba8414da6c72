"""`python manage.py mllp_listen --port 2575 --org SLUG [--host 127.0.0.1]`: receive HL7 v2
messages over MLLP for one organization (see `integrations.listener`)."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.listener import MllpListener
from rxrevops.models import Organization


class Command(BaseCommand):
    help = "Receive HL7 v2 messages (RDS^O13, VXU^V04, ADT^A08) over MLLP for one organization."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=2575, help="TCP port (0: any free one)")
        parser.add_argument("--host", default="127.0.0.1", help="address to bind")
        parser.add_argument("--org", required=True, help="the organization's slug")
        parser.add_argument(
            "--idle-timeout", type=float, default=300.0, help="close a silent connection (s)"
        )
        parser.add_argument(
            "--workers", type=int, default=8, help="messages processed at once (DB threads)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organization with the slug {options['org']!r}.")
        listener = MllpListener(
            organization_id=organization.pk,
            host=options["host"],
            port=options["port"],
            idle_timeout=options["idle_timeout"],
            workers=options["workers"],
        )
        asyncio.run(self._serve(listener, organization))

    async def _serve(self, listener: MllpListener, organization: Organization) -> None:
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopped.set)
        await listener.start()
        # the first line says where it listens (tests and scripts read the port from it)
        self.stdout.write(
            f"MLLP listening on {listener.host}:{listener.bound_port} for {organization.slug}"
        )
        self.stdout.flush()
        await stopped.wait()
        self.stdout.write("Stopping: finishing the messages in hand ...")
        self.stdout.flush()
        await listener.stop()
