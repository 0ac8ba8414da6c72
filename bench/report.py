"""How every benchmark prints its results: one aligned table of measure, result, target, met
(and, for a figure measured against a baseline of the same run, the baseline and the ratio);
and the run's report: a summary of every figure that has a target, then every table printed,
with the machine it ran on, written to bench/results/ as Markdown. With `--readme` the summary
also replaces the README's "Last `make bench` run" section."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

# (measure, result, target, met), or with (..., baseline, ratio) after them
Row = tuple[str, ...]

RESULTS = Path(__file__).resolve().parent / "results"

# (benchmark, its tables) in the order they were printed during this run
_recorded: list[tuple[str, list[Row]]] = []
_section = ["benchmark"]


def met(ok: bool) -> str:
    return "yes" if ok else "NO"


def section(name: str) -> None:
    """Name the benchmark whose tables follow (for the report)."""
    _section[0] = name


def _cells(row: Row) -> tuple[str, str, str, str, str, str]:
    """(measure, result, target, met, baseline, ratio) of a 4- or 6-cell row."""
    if len(row) not in (4, 6):
        raise ValueError(f"a row has 4 or 6 cells, not {len(row)}: {row!r}")
    measure, result, target, ok, *rest = row
    baseline, ratio = rest or ("", "")
    return measure, result, target, ok, baseline, ratio


def record_table(rows: Sequence[Row]) -> None:
    """Add a table to this run's report without printing it (one a child printed)."""
    for row in rows:
        _cells(row)
    _recorded.append((_section[0], list(rows)))


def recorded() -> list[tuple[str, list[Row]]]:
    """Every table of this run so far, as (benchmark, rows)."""
    return list(_recorded)


def print_table(rows: Sequence[Row]) -> None:
    cells = [_cells(r) for r in rows]
    record_table(rows)
    with_baseline = any(c[4] or c[5] for c in cells)
    heads = ("measure", "result", "target", "met", "baseline", "ratio")
    w = [max(len(c[i]) for c in [heads, *cells]) + (0 if i == 0 else 2) for i in range(6)]
    shown = range(6 if with_baseline else 4)
    print("".join(f"{heads[i]:<{w[i]}}" if i == 0 else f"{heads[i]:>{w[i]}}" for i in shown))
    for c in cells:
        print("".join(f"{c[i]:<{w[i]}}" if i == 0 else f"{c[i]:>{w[i]}}" for i in shown))
    sys.stdout.flush()  # a child's tables in order with its parent's output


def summary() -> list[tuple[str, str, str, str, str, str, str]]:
    """Every figure of this run that has a target: (benchmark, figure, ours, baseline,
    ratio, target, met), in the order printed."""
    return [
        (name, measure.strip(), result, baseline, ratio, target, ok)
        for name, rows in _recorded
        for measure, result, target, ok, baseline, ratio in map(_cells, rows)
        if target
    ]


def summary_markdown(machine_line: str) -> list[str]:
    """The summary as a Markdown table, one column naming the machine."""
    short = short_machine(machine_line)
    lines = [
        "| benchmark | figure | ours | baseline (same run) | ratio | target | met | machine |",
        "| --- | --- | ---: | ---: | ---: | ---: | :---: | --- |",
    ]
    for row in summary():
        cells = (*row, short)
        lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    return lines


def short_machine(machine_line: str) -> str:
    """'Intel(R) Xeon(R) Processor x 2, 24 GiB': `machine()`'s line up to the OS."""
    return machine_line.split(";", 1)[0].strip()


def _md(cell: str) -> str:
    return cell.strip().replace("|", "\\|")


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


def write_report(command: str, *, results: Path = RESULTS) -> Path | None:
    """The summary and every table printed so far, as Markdown, to
    bench/results/<UTC time>.md; None when no table was printed."""
    if not _recorded:
        return None
    now = datetime.now(UTC)
    machine_line = machine()
    lines = [
        f"# Benchmark run {now:%Y-%m-%d %H:%M} UTC",
        "",
        f"- command: `{command}`",
        f"- machine: {machine_line}",
        "",
        "## Summary",
        "",
        *summary_markdown(machine_line),
        "",
    ]
    for name, rows in _recorded:
        cells = [_cells(r) for r in rows]
        width = 6 if any(c[4] or c[5] for c in cells) else 4
        heads = ("measure", "result", "target", "met", "baseline", "ratio")[:width]
        aligns = ("---", "---:", "---:", ":---:", "---:", "---:")[:width]
        lines += [f"## {name}", "", "| " + " | ".join(heads) + " |"]
        lines.append("| " + " | ".join(aligns) + " |")
        for c in cells:
            lines.append("| " + " | ".join(_md(x) for x in c[:width]) + " |")
        lines.append("")
    results.mkdir(exist_ok=True)
    path = results / f"{now:%Y-%m-%dT%H%M}Z.md"
    path.write_text("\n".join(lines))
    return path


README_START = "<!-- make bench: start -->"
README_END = "<!-- make bench: end -->"


def readme_update(readme: Path, report_path: Path, command: str) -> None:
    """Replace what lies between the README's two markers with this run's summary."""
    text = readme.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start == -1 or end < start:
        raise ValueError(f"{readme} has no {README_START} ... {README_END} section")
    machine_line = machine()
    when = report_path.stem.replace("T", " ").removesuffix("Z")
    body = [
        README_START,
        "",
        f"Written by `{command}` on {when[:10]} at {when[11:13]}:{when[13:15]} UTC "
        f"(report: `{report_path.relative_to(readme.parent)}`), on {machine_line}.",
        "",
        *summary_markdown(machine_line),
        "",
    ]
    readme.write_text(text[:start] + "\n".join(body) + text[end:])


def argv() -> str:
    return " ".join([".venv/bin/python -m bench", *sys.argv[1:]])
