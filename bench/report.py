"""How every benchmark prints its results: one aligned table of measure, result, target, met;
and the run's report: every table printed, with the machine it ran on, written to
bench/results/ as Markdown."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

Row = tuple[str, str, str, str]

RESULTS = Path(__file__).resolve().parent / "results"

# (benchmark, its tables) in the order they were printed during this run
_recorded: list[tuple[str, list[Row]]] = []
_section = ["benchmark"]


def met(ok: bool) -> str:
    return "yes" if ok else "NO"


def section(name: str) -> None:
    """Name the benchmark whose tables follow (for the report)."""
    _section[0] = name


def print_table(rows: Sequence[Row]) -> None:
    _recorded.append((_section[0], list(rows)))
    w = (
        max(len(r[0]) for r in rows) + 2,
        max(len(r[1]) for r in rows),
        max(len(r[2]) for r in rows) + 2,
        5,
    )
    print(f"{'measure':<{w[0]}}{'result':>{w[1]}}{'target':>{w[2]}}{'met':>{w[3]}}")
    for name, result, goal, ok in rows:
        print(f"{name:<{w[0]}}{result:>{w[1]}}{goal:>{w[2]}}{ok:>{w[3]}}")


def machine() -> str:
    """One line: CPU model and count, memory, OS, Python, Postgres server."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    import psycopg

    from bench.django_db import database_url

    try:
        with psycopg.connect(database_url("postgres"), connect_timeout=5) as c:
            found = c.execute("SHOW server_version").fetchone()
            shared = c.execute("SHOW shared_buffers").fetchone()
            server = f"Postgres {found[0] if found else '?'} (shared_buffers "
            server += f"{shared[0] if shared else '?'})"
    except psycopg.Error as exc:  # the report is written whatever the server says
        server = f"Postgres not reached ({exc.__class__.__name__})"
    return (
        f"{cpu} x {os.cpu_count()}{memory}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; {server}"
    )


def write_report(command: str) -> Path | None:
    """Every table printed so far, as Markdown, to bench/results/<UTC time>.md; None when no
    table was printed."""
    if not _recorded:
        return None
    now = datetime.now(UTC)
    lines = [
        f"# Benchmark run {now:%Y-%m-%d %H:%M} UTC",
        "",
        f"- command: `{command}`",
        f"- machine: {machine()}",
        "",
    ]
    for name, rows in _recorded:
        lines += [
            f"## {name}",
            "",
            "| measure | result | target | met |",
            "| --- | ---: | ---: | :---: |",
        ]
        for measure, result, target, ok in rows:
            cells = (measure.strip() or " ", result, target, ok)
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines.append("")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{now:%Y-%m-%dT%H%M}Z.md"
    path.write_text("\n".join(lines))
    return path


def argv() -> str:
    return " ".join([".venv/bin/python -m bench", *sys.argv[1:]])
