"""`python manage.py mllp_listen --port 2575 --org SLUG [--host 127.0.0.1]`: receive HL7 v2
messages over MLLP for one organization (see `integrations.listener`).

`--processes N` pre-forks N processes sharing the listening socket (the kernel hands each
new connection to one of them), so messages use more than one core: each process has its
own event loop, thread pool and database connections, and a connection stays with the
process that accepted it (its ACKs stay in order). SIGTERM or SIGINT to the first process
stops them all, each finishing the messages in hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

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
            "--workers", type=int, default=8, help="messages processed at once per process"
        )
        parser.add_argument(
            "--processes", type=int, default=1, help="processes sharing the port (cores)"
        )
        parser.add_argument(
            "--max-connections",
            type=int,
            default=256,
            help="connections served at once per process (more are closed at once)",
        )
        parser.add_argument(
            "--frame-timeout",
            type=float,
            default=30.0,
            help="seconds a message has to arrive whole once its frame has started",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"No organization with the slug {options['org']!r}.")
        if options["processes"] < 1 or options["workers"] < 1:
            raise CommandError("--processes and --workers must be at least 1.")
        sock = socket.create_server((options["host"], options["port"]), backlog=1024)
        sock.setblocking(False)
        port = sock.getsockname()[1]
        connections.close_all()  # no database connection may cross a fork
        children = []
        for _ in range(options["processes"] - 1):
            pid = os.fork()
            if pid == 0:  # a child serves until told to stop, then leaves without cleanup
                code = 0
                try:
                    asyncio.run(self._serve(sock, organization, options, announce=False))
                except BaseException:
                    code = 1
                finally:
                    os._exit(code)
            children.append(pid)
        options["bound_port"] = port
        try:
            asyncio.run(self._serve(sock, organization, options, announce=True))
        finally:
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
            for pid in children:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)

    async def _serve(
        self,
        sock: socket.socket,
        organization: Organization,
        options: dict[str, Any],
        *,
        announce: bool,
    ) -> None:
        listener = MllpListener(
            organization=organization,
            host=options["host"],
            port=options["port"],
            idle_timeout=options["idle_timeout"],
            workers=options["workers"],
            sock=sock,
            max_connections=options["max_connections"],
            frame_timeout=options["frame_timeout"],
        )
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopped.set)
        await listener.start()
        if announce:
            # the first line says where it listens (tests and scripts read the port from
            # it); only once a stop signal would be handled, so one sent on reading it is
            self.stdout.write(
                f"MLLP listening on {options['host']}:{options['bound_port']} for "
                f"{organization.slug} ({options['processes']} process(es))"
            )
            self.stdout.flush()
        await stopped.wait()
        if announce:
            self.stdout.write("Stopping: finishing the messages in hand ...")
            self.stdout.flush()
        await listener.stop()
