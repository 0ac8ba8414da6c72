from __future__ import annotations

import argparse
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


def main() -> None:
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
        choices=[
            "world",
            "pms",
            "api-fills",
            "x12",
            "adherence",
            "recon",
            "recon-db",
            "dashboards",
            "mllp",
            "api-reads",
            "api",
            "load",
        ],
        help="run one benchmark instead of all of them ('api': api-fills, api-reads and "
        "mllp, the integration API's three figures, in one run)",
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
    args = parser.parse_args()
    if args.pms_rows < 1:
        parser.error("--pms-rows must be at least 1")
    if args.api_fills_rows < 1:
        parser.error("--api-fills-rows must be at least 1")
    if args.only in (None, "world"):
        report.section("world")
        world.run(include_large=args.large)
    if args.only in (None, "pms"):
        if args.only is None:
            print()
        report.section("pms")
        pms_import.run(rows=args.pms_rows)
    if args.only in (None, "api-fills", "api"):
        if args.only is None:
            print()
        report.section("api-fills")
        api_fills.run(rows=args.api_fills_rows)
    if args.only in (None, "x12"):
        if args.only is None:
            print()
        report.section("x12")
        x12_parse.run()
    if args.only in (None, "adherence"):
        if args.only is None:
            print()
        report.section("adherence")
        adherence.run()

    if args.only in (None, "recon"):
        if args.only is None:
            print()
        report.section("recon")
        recon.run()
    if args.only in (None, "recon-db"):
        if args.only is None:
            print()
        report.section("recon-db")
        recon_db.run()
    if args.only in (None, "dashboards"):
        if args.only is None:
            print()
        report.section("dashboards")
        dashboard_pages.run()
    if args.only in (None, "api-reads", "api"):
        if args.only in (None, "api"):
            print()
        report.section("api-reads")
        api_reads.run()
    if args.only in (None, "mllp", "api"):
        if args.only in (None, "api"):
            print()
        report.section("mllp")
        mllp.run()
    if args.only in (None, "load"):
        if args.only is None:
            print()
        report.section("load")
        load.run(seconds=args.load_seconds)
    written = report.write_report(report.argv())
    if written is not None:
        print(f"\nreport: {written.relative_to(written.parents[2])}")
        if args.readme:
            readme = Path(__file__).resolve().parent.parent / "README.md"
            report.readme_update(readme, written, report.argv())
            print(f"summary written to {readme.name} (section 'Last `make bench` run')")


if __name__ == "__main__":
    main()
