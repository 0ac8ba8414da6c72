"""`python -m bench`: every benchmark, or those named with --only (repeatable).

One benchmark runs in this process. Several run one after the other, each in a process of its
own: a benchmark points Django at a database of its own for the life of its process, and a
process's peak RSS (which the PMS import benchmark measures in the children it starts) keeps
whatever its parent held when it forked. A benchmark that fails is reported as failed and the
next one still runs; the report and the README summary hold every table printed."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench import (
    adherence,
    api_fills,
    api_reads,
    dashboard_pages,
    load,
    mllp,
    pms_import,
    recon,
    recon_db,
    report,
    world,
    x12_parse,
)

ROOT = Path(__file__).resolve().parent.parent

# every benchmark, in the order a full run takes them
SECTIONS = (
    "world",
    "pms",
    "api-fills",
    "x12",
    "adherence",
    "recon",
    "recon-db",
    "dashboards",
    "api-reads",
    "mllp",
    "load",
)
# names that stand for several benchmarks
GROUPS = {"api": ("api-fills", "api-reads", "mllp")}


def _runners(args: argparse.Namespace) -> dict[str, Callable[[], None]]:
    return {
        "world": lambda: world.run(include_large=args.large),
        "pms": lambda: pms_import.run(rows=args.pms_rows),
        "api-fills": lambda: api_fills.run(rows=args.api_fills_rows),
        "x12": x12_parse.run,
        "adherence": adherence.run,
        "recon": recon.run,
        "recon-db": recon_db.run,
        "dashboards": dashboard_pages.run,
        "api-reads": api_reads.run,
        "mllp": mllp.run,
        "load": lambda: load.run(seconds=args.load_seconds),
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="RxRevOps benchmarks")
    parser.add_argument("--large", action="store_true", help="include the ~1M-claim world")
    parser.add_argument(
        "--pms-rows",
        type=int,
        default=1_000_000,
        metavar="N",
        help="rows in the PMS import benchmark's file (default 1,000,000)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=[*SECTIONS, *GROUPS],
        help="run this benchmark instead of all of them (repeatable; 'api': api-fills, "
        "api-reads and mllp, the integration API's three figures)",
    )
    parser.add_argument(
        "--api-fills-rows",
        type=int,
        default=200_000,
        metavar="N",
        help="fills the API push benchmark sends (default 200,000)",
    )
    parser.add_argument(
        "--load-seconds",
        type=int,
        default=load.DURATION_S,
        metavar="S",
        help=f"how long the load scenario runs (default {load.DURATION_S})",
    )
    parser.add_argument(
        "--readme",
        action="store_true",
        help="also write this run's summary into README.md's 'Last `make bench` run' section",
    )
    # a child of a run of several: its tables go to this file instead of a report
    parser.add_argument("--record", type=Path, help=argparse.SUPPRESS)
    return parser


def selected(only: list[str] | None) -> list[str]:
    """The benchmarks to run, in SECTIONS order, each once."""
    if not only:
        return list(SECTIONS)
    wanted = {s for name in only for s in GROUPS.get(name, (name,))}
    return [s for s in SECTIONS if s in wanted]


def _passed_on(args: argparse.Namespace) -> list[str]:
    out = [
        f"--pms-rows={args.pms_rows}",
        f"--api-fills-rows={args.api_fills_rows}",
        f"--load-seconds={args.load_seconds}",
    ]
    return (["--large"] if args.large else []) + out


def _run_in_child(section: str, args: argparse.Namespace) -> None:
    """`python -m bench --only section` with its output shown as it comes; its tables are
    added to this run's, or a row saying it failed."""
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        record = Path(tmp) / "tables.json"
        done = subprocess.run(  # noqa: S603 (our own interpreter and package)
            [
                sys.executable,
                "-m",
                "bench",
                "--only",
                section,
                *_passed_on(args),
                f"--record={record}",
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            check=False,
        )
        if record.exists():
            for name, rows in json.loads(record.read_text()):
                report.section(name)
                report.record_table([tuple(r) for r in rows])
        if done.returncode:
            report.section(section)
            report.print_table(
                [(f"{section}: the benchmark failed", f"exit {done.returncode}", "runs", "NO")]
            )


def main() -> None:
    parser = _parser()
    args = parser.parse_args()
    if args.pms_rows < 1:
        parser.error("--pms-rows must be at least 1")
    if args.api_fills_rows < 1:
        parser.error("--api-fills-rows must be at least 1")
    sections = selected(args.only)
    runners = _runners(args)
    if len(sections) == 1:
        report.section(sections[0])
        runners[sections[0]]()
        if args.record is not None:
            args.record.write_text(json.dumps(report.recorded()))
            return
    else:
        for i, section in enumerate(sections):
            if i:
                print(flush=True)
            _run_in_child(section, args)
    written = report.write_report(report.argv())
    if written is not None:
        print(f"\nreport: {written.relative_to(written.parents[2])}")
        if args.readme:
            readme = ROOT / "README.md"
            report.readme_update(readme, written, report.argv())
            print(f"summary written to {readme.name} (section 'Last `make bench` run')")


if __name__ == "__main__":
    main()
