"""Fuzzing the 835 reader (reconciliation.x12) beyond the byte flips of
tests/reconciliation/x12/test_fuzz.py: random bytes and text (lone surrogates, NUL), and real
and synthetic remittances damaged segment by segment and element by element (dropped,
repeated, swapped and cut segments, huge amounts, wrong delimiters). The only exception is
`X12Error` with fatal, located issues, and never the reader's `internal-error` (its name for
a bug it caught); a file that reads carries only error and warning issues."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciliation.x12 import FATAL, ParsedFile, X12Error, read_835_file
from reconciliation.x12.tokenizer import sniff, text_chunks
from tests.fuzz.mutations import ENCODINGS, encode, mutate_records, nasty_value, record_step
from tests.reconciliation.x12.builders import FIXTURES, interchange, render

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SAMPLES = [p.read_bytes() for p in sorted(FIXTURES.iterdir()) if p.name != "SOURCES.md"] + [
    render(interchange()),
    render(interchange(transactions=3)),
    render(interchange(), element="|", terminator="\n"),
    render(interchange(), element="\x1d", terminator="\x1c"),
]


def outcome(data: bytes | io.StringIO) -> ParsedFile | X12Error:
    try:
        parsed = read_835_file(data, "fuzz.835")
    except X12Error as exc:
        rejected = exc
    else:
        for issue in parsed.issues + [i for r in parsed.remittances for i in r.issues]:
            assert issue.severity in ("error", "warning"), issue
            assert issue.message
            assert issue.code
        return parsed
    assert rejected.issues, "a rejection names its problem"
    for issue in rejected.issues:
        assert issue.severity == FATAL, issue
        assert issue.code != "internal-error", str(issue)
        assert issue.message
    return rejected


@pytest.fixture(scope="module")
def world_remits(world_files: Path) -> list[bytes]:
    """The world's smallest 835 in each delimiter style it writes."""
    manifest = json.loads((world_files / "manifest.json").read_text())
    smallest: dict[str, dict[str, Any]] = {}
    for entry in manifest["files"]:
        if entry["kind"] == "remit_835":
            best = smallest.get(entry["delimiters"])
            if best is None or entry["bytes"] < best["bytes"]:
                smallest[entry["delimiters"]] = entry
    return [(world_files / e["path"]).read_bytes() for _, e in sorted(smallest.items())]


# --- random input ---------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes_are_read_or_rejected(data: bytes) -> None:
    outcome(data)


@FUZZ
@given(st.sampled_from(["ISA*", "ST*835*0001~", "ISA|", ""]), st.text(max_size=1500))
def test_random_text_after_a_plausible_start_is_read_or_rejected(start: str, body: str) -> None:
    """As text (lone surrogates included, which no byte decoding could produce) and as the
    bytes each encoding makes of it."""
    outcome(io.StringIO(start + body))
    outcome(encode(start + body, "utf-8"))


# --- damaged real and synthetic remittances -------------------------------------------------


def _records(data: bytes) -> tuple[str, str, list[str]]:
    """(element separator, terminator, segments) of a sample that reads."""
    delimiters, _ = sniff(text_chunks(data), "sample")
    text = data.decode("utf-8-sig").replace("\r", "").replace("\n", "")
    if delimiters.terminator == "\n":
        text = data.decode("utf-8-sig")
    return delimiters.element, delimiters.terminator, text.split(delimiters.terminator)


@FUZZ
@given(st.data(), st.lists(record_step, min_size=1, max_size=5))
def test_remittances_damaged_segment_by_segment_are_read_or_rejected(
    world_remits: list[bytes], data: Any, steps: list[tuple[str, float, Any]]
) -> None:
    samples = SAMPLES + world_remits
    sample = samples[data.draw(st.integers(0, len(samples) - 1))]
    element, terminator, segments = _records(sample)
    damaged = terminator.join(mutate_records(segments, element, steps))
    outcome(encode(damaged, data.draw(st.sampled_from(["utf-8"] * 4 + ENCODINGS))))


amount_element = st.sampled_from(
    ["CLP", "SVC", "CAS", "PLB", "BPR", "AMT", "QTY", "DTM", "SE", "GE", "IEA", "LX", "TRN"]
)


@FUZZ
@given(
    st.data(),
    amount_element,
    st.integers(1, 8),
    nasty_value
    | st.integers(-(10**40), 10**40).map(str)
    | st.decimals(allow_nan=True, allow_infinity=True).map(str),
)
def test_an_odd_value_in_any_element_is_read_or_rejected(
    world_remits: list[bytes], data: Any, segment_id: str, position: int, value: str
) -> None:
    samples = SAMPLES + world_remits
    sample = samples[data.draw(st.integers(0, len(samples) - 1))]
    element, terminator, segments = _records(sample)
    targets = [i for i, s in enumerate(segments) if s.lstrip().startswith(segment_id + element)]
    if targets:
        i = data.draw(st.sampled_from(targets))
        fields = segments[i].split(element)
        fields[min(position, len(fields) - 1)] = value
        segments[i] = element.join(fields)
    outcome(terminator.join(segments).encode("utf-8", "surrogatepass"))


@FUZZ
@given(st.data(), st.sampled_from(["*", "|", "^", ":", "~", "\x1d", "\x1c", "\n", "\t", "a"]))
def test_a_remittance_rewritten_with_other_delimiters_is_read_or_rejected(
    world_remits: list[bytes], data: Any, new: str
) -> None:
    """One delimiter swapped for another (possibly one already in use) across the file."""
    samples = SAMPLES + world_remits
    sample = samples[data.draw(st.integers(0, len(samples) - 1))]
    element, terminator, segments = _records(sample)
    which = data.draw(st.sampled_from(["element", "terminator"]))
    if which == "element":
        text = terminator.join(s.replace(element, new) for s in segments)
    else:
        text = new.join(segments)
    outcome(text.encode("utf-8"))


def test_the_samples_read_clean(world_remits: list[bytes]) -> None:
    """Fuzzing starts from remittances that read (one fixture ends in a cut CLP on purpose)."""
    assert len(world_remits) == 4  # standard, newline, control and wrapped delimiters
    rejected = []
    for sample in SAMPLES + world_remits:
        result = outcome(sample)
        if isinstance(result, X12Error):
            rejected.append([i.code for i in result.issues])
        else:
            assert result.remittances
    assert rejected == [["truncated-segment"]]


def test_a_nul_byte_in_an_element_fails_that_element_and_nothing_else() -> None:
    """Was, through the import, "Internal error: UntranslatableCharacter": the NUL reached
    the issue's `found` (jsonb) and the text columns, which Postgres cannot hold."""
    data = render(interchange()).replace(
        b"CLP*2200397-00*1*70.44*29.26", b"CLP*2200397-00*1*70.44*29.2\x00"
    )
    parsed = outcome(data)
    assert isinstance(parsed, ParsedFile)
    issues = [i for r in parsed.remittances for i in r.issues if i.severity == "error"]
    assert [i.element for i in issues][:1] == ["CLP04"]
    assert all("\x00" not in (i.found or "") for i in issues)
