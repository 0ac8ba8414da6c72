"""The one benchmark report (issue 11): every benchmark's tables go to bench/results/<UTC>.md
behind a summary of each figure that has a target (ours, the baseline measured in the same
run, the ratio, the target, met, the machine), and `--readme` puts that summary into the
README between its two markers, leaving the rest of the README as it was."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import report

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def fresh_run() -> Iterator[None]:
    saved = list(report._recorded)
    report._recorded.clear()
    yield
    report._recorded[:] = saved


def _two_benchmarks() -> None:
    report.section("pms")
    report.print_table(
        [
            ("import end to end", "48.5 s  20,635 rows/s", ">= 100,000 rows/s", "NO"),
            ("  of which the job", "45.4 s", "", ""),
            (
                "  ours as a share of raw COPY",
                "20,635 rows/s",
                ">= 30%",
                "NO",
                "raw COPY 174,693 rows/s",
                "11.8%",
            ),
        ]
    )
    report.section("mllp")
    report.print_table(
        [("ADT^A08 over MLLP | ACKs", "384", ">= 500", "NO", "TCP echo 22,141 msg/s", "0.017")]
    )


def test_the_summary_holds_each_figure_with_a_target_and_its_baseline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _two_benchmarks()
    printed = capsys.readouterr().out
    # a table with a baseline in any row prints the two extra columns
    assert "baseline" in printed.splitlines()[0]
    assert "ratio" in printed.splitlines()[0]
    assert report.summary() == [
        ("pms", "import end to end", "48.5 s  20,635 rows/s", "", "", ">= 100,000 rows/s", "NO"),
        (
            "pms",
            "ours as a share of raw COPY",
            "20,635 rows/s",
            "raw COPY 174,693 rows/s",
            "11.8%",
            ">= 30%",
            "NO",
        ),
        (
            "mllp",
            "ADT^A08 over MLLP | ACKs",
            "384",
            "TCP echo 22,141 msg/s",
            "0.017",
            ">= 500",
            "NO",
        ),
    ]


def test_a_row_of_another_width_is_refused() -> None:
    with pytest.raises(ValueError, match="4 or 6 cells, not 5"):
        report.print_table([("a", "b", "c", "d", "e")])


def test_the_report_file_starts_with_the_summary_and_names_the_machine(tmp_path: Path) -> None:
    _two_benchmarks()
    path = report.write_report("python -m bench --only pms", results=tmp_path)
    assert path is not None
    assert path.parent == tmp_path
    text = path.read_text()
    machine = report.short_machine(report.machine())
    assert f"- machine: {machine}" in text
    summary = text.split("## Summary", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in summary.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| benchmark | figure | ours | baseline (same run) | ratio |")
    assert len(rows) == 2 + 3  # header, rule, three figures
    assert rows[3] == (
        "| pms | ours as a share of raw COPY | 20,635 rows/s | raw COPY 174,693 rows/s | "
        f"11.8% | >= 30% | NO | {machine} |"
    )
    # a pipe inside a cell is escaped, not a column
    assert "| ADT^A08 over MLLP \\| ACKs | 384 |" in rows[4]
    # each benchmark's own table follows, with its baseline columns only where it has them
    assert "## pms\n\n| measure | result | target | met | baseline | ratio |" in text
    assert "| of which the job | 45.4 s |  |  |  |  |" in text


def test_nothing_printed_writes_no_report(tmp_path: Path) -> None:
    assert report.write_report("python -m bench", results=tmp_path) is None
    assert list(tmp_path.iterdir()) == []


def test_the_readme_section_is_replaced_and_nothing_else(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    before = "# Product\n\n## Performance\n\n"
    after = "\n\n## Development\n\nunchanged\n"
    readme.write_text(before + report.README_START + "\nold figures\n" + report.README_END + after)
    _two_benchmarks()
    path = report.write_report("python -m bench --large --readme", results=tmp_path / "results")
    assert path is not None
    report.readme_update(readme, path, "python -m bench --large --readme")
    text = readme.read_text()
    assert text.startswith(before + report.README_START)
    assert text.endswith(report.README_END + after)
    assert "old figures" not in text
    assert f"(report: `results/{path.name}`)" in text
    assert "| pms | import end to end | 48.5 s  20,635 rows/s |  |  | >= 100,000 rows/s | NO |" in (
        text
    )
    # a second run replaces the first one's summary instead of adding to it
    report.readme_update(readme, path, "python -m bench --large --readme")
    assert readme.read_text() == text


def test_a_readme_without_the_markers_is_left_alone(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Product\n")
    _two_benchmarks()
    path = report.write_report("python -m bench", results=tmp_path)
    assert path is not None
    with pytest.raises(ValueError, match="has no <!-- make bench: start -->"):
        report.readme_update(readme, path, "python -m bench")
    assert readme.read_text() == "# Product\n"


def test_the_project_readme_has_the_section_make_bench_writes() -> None:
    text = (ROOT / "README.md").read_text()
    start, end = text.find(report.README_START), text.find(report.README_END)
    assert -1 < start < end
    assert "--readme" in (ROOT / "Makefile").read_text().split("\nbench:", 1)[1].split("\n\n")[0]


def test_a_run_of_several_takes_each_benchmark_once_in_the_full_run_s_order() -> None:
    from bench.__main__ import SECTIONS, selected

    assert selected(None) == list(SECTIONS)
    assert selected(["load", "api", "pms", "mllp"]) == [
        "pms",
        "api-fills",
        "api-reads",
        "mllp",
        "load",
    ]


def test_a_benchmark_that_fails_in_its_own_process_is_reported_and_the_run_goes_on() -> None:
    """Each benchmark of a run of several runs as `python -m bench --only NAME`; one that
    exits non-zero (here: refused its arguments) becomes a failed row, not a crash."""
    from bench.__main__ import _parser, _run_in_child

    args = _parser().parse_args(["--pms-rows=5"])
    args.pms_rows = 0  # what the child refuses
    _run_in_child("pms", args)
    assert report.summary() == [
        ("pms", "pms: the benchmark failed", "exit 2", "", "", "runs", "NO"),
    ]
