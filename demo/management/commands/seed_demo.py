"""python manage.py seed_demo [--seed N] — the demo chain, its users, and their logins."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from demo.services import demo_seed

DEFAULT_PASSWORD = "prairie-demo-2026"  # noqa: S105 - printed demo login, synthetic data only


class Command(BaseCommand):
    help = "Create or refresh the demo organization (slug 'demo'), its locations and users."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: Any, **opts: Any) -> None:
        password = os.environ.get("DEMO_PASSWORD", DEFAULT_PASSWORD)
        logins = demo_seed(password=password, seed=opts["seed"])
        self.stdout.write(
            self.style.SUCCESS("Demo chain ready: Prairie Pharmacy Group (slug 'demo')")
        )
        self.stdout.write(
            f"Sign in at http://127.0.0.1:8000/accounts/login/ with password: {password}"
        )
        for login in logins:
            self.stdout.write(f"  {login.email:<28} {login.role:<34} {login.scope}")
