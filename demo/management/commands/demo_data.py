"""python manage.py demo_data --out DIR [--scale small|medium|large] [--seed N] [--year YYYY]
[--as-of YYYY-MM-DD]

Writes the synthetic chain's files (PMS exports, 835s, fee statements, costs, clinical
activity, ground truth) and manifest.json. Same arguments, same bytes.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.world.build import build_world
from demo.world.simulate import SCALES
from demo.world.writers import clear_world, write_world

DEFAULT_YEAR = 2026


class Command(BaseCommand):
    help = "Generate the synthetic pharmacy chain as files in the industry's formats."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, type=Path, help="output directory")
        parser.add_argument("--scale", choices=sorted(SCALES), default="small")
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--year", type=int, default=DEFAULT_YEAR)
        parser.add_argument(
            "--as-of",
            type=date.fromisoformat,
            default=None,
            help="simulate up to this day (default: December 31 of --year)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        out: Path = opts["out"]
        if out.exists() and any(out.iterdir()) and not (out / "manifest.json").exists():
            raise CommandError(f"{out} is not empty and holds no earlier world; pick another")
        started = time.perf_counter()
        try:
            world = build_world(
                seed=opts["seed"], scale=opts["scale"], year=opts["year"], as_of=opts["as_of"]
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        simulated = time.perf_counter()
        clear_world(out)
        manifest = write_world(world, out)
        finished = time.perf_counter()
        counts = manifest["counts"]
        self.stdout.write(
            f"{opts['scale']} world (seed {opts['seed']}, {world.year} to {world.as_of}) "
            f"written to {out}"
        )
        for key in ("locations", "patients", "claims", "remittances", "remit_claims", "fee_lines"):
            self.stdout.write(f"  {key:<14} {counts[key]:>10,}")
        self.stdout.write(f"  {'files':<14} {len(manifest['files']):>10,}")
        self.stdout.write(
            f"  simulate {simulated - started:.1f}s, write {finished - simulated:.1f}s"
        )
