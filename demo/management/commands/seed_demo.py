"""python manage.py seed_demo [--scale small|medium|large] [--seed N] [--as-of YYYY-MM-DD]

The demo chain (slug 'demo'), its stores, one user per role, and the world's files under
var/demo-world/. Prints the logins.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from demo.services import demo_seed
from demo.world.simulate import SCALES

DEFAULT_PASSWORD = "prairie-demo-2026"  # noqa: S105 - printed demo login, synthetic data only


class Command(BaseCommand):
    help = "Create or refresh the demo organization (slug 'demo'), its locations and users."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scale", choices=sorted(SCALES), default="small")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument(
            "--as-of",
            type=date.fromisoformat,
            default=None,
            help="simulate the year up to this day (default: today)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        password = os.environ.get("DEMO_PASSWORD", DEFAULT_PASSWORD)
        as_of = opts["as_of"] or timezone.localdate()
        files = Path(settings.BASE_DIR) / "var" / "demo-world" / f"{opts['scale']}-{opts['seed']}"
        result = demo_seed(
            password=password, seed=opts["seed"], scale=opts["scale"], as_of=as_of, files_dir=files
        )
        w = result.world
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo chain ready: {w.organization} (slug 'demo'), {len(w.locations)} stores, "
                f"{len(w.patients):,} patients, {len(w.claims):,} claims simulated to {w.as_of}"
            )
        )
        self.stdout.write(
            f"World files ({result.file_count}) in {result.files}; "
            f"Files imported this run (PMS exports, 835s, fee statements, NADAC, invoices, "
            f"immunizations): {result.imported}"
        )
        r = result.reconciliation
        statuses = ", ".join(
            f"{v:,} {k.removeprefix('status_').replace('_', ' ')}"
            for k, v in r.items()
            if k.startswith("status_")
        )
        self.stdout.write(f"Reconciled as of {as_of}: {statuses}")
        c = result.worklists
        self.stdout.write(
            f"Worklists as of {as_of}: {c.get('med_sync_items', 0)} med-sync calls, "
            f"{c.get('refill_items', 0)} refills at risk or late, "
            f"{c.get('care_gap_items', 0)} care gaps"
        )
        if result.clinical is not None:
            k = result.clinical
            self.stdout.write(
                f"Clinical: {k.contracts} value-based contracts, {k.registries} state registries "
                f"(sandbox), {k.cmrs_signed} CMRs and {k.tmrs_signed} TMRs signed, "
                f"{k.drafts} draft, {k.poc_tests} point-of-care tests"
            )
        self.stdout.write(
            f"Sign in at http://127.0.0.1:8000/accounts/login/ with password: {password}"
        )
        for login in result.logins:
            self.stdout.write(f"  {login.email:<28} {login.role:<34} {login.scope}")
