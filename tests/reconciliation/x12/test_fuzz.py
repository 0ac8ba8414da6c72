"""Damaged input never escapes as anything but an X12Error, and never hangs; reading in
chunks of any size gives the same result as reading at once."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciliation.x12 import ParsedFile, X12Error, read_835_file
from reconciliation.x12 import tokenizer as x12_tokenizer
from tests.reconciliation.x12.builders import FIXTURES, interchange, render

SAMPLES = [p.read_bytes() for p in sorted(FIXTURES.iterdir()) if p.name != "SOURCES.md"] + [
    render(interchange()),
    render(interchange(), element="\x1f", terminator="\x1e"),
    render(interchange(), terminator="\n"),
    render(interchange(), wrap=80),
]
NASTY = b"*~:>^|\r\n\x1e\x1f \t.-0123456789ISAGESTCLPSVCCASPLB\xef\xbb\xbf\xff\x00"

mutation = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1), st.sampled_from(list(NASTY)) | st.integers(0, 255)),
    st.tuples(
        st.just("insert"),
        st.floats(0, 1),
        st.binary(max_size=12)
        | st.sampled_from(
            [b"~", b"*", b"\r\n", b"ST*835*9~", b"SE*1*9~", b"CLP*1~", b"ISA*", b"~~~", b"PLB*1"]
        ),
    ),
    st.tuples(st.just("delete"), st.floats(0, 1), st.integers(1, 40)),
    st.tuples(st.just("truncate"), st.floats(0, 1), st.just(0)),
    st.tuples(st.just("duplicate"), st.floats(0, 1), st.integers(1, 200)),
)


def mutate(data: bytes, steps: list[tuple[str, float, Any]]) -> bytes:
    buf = bytearray(data)
    for kind, where, arg in steps:
        at = int(where * len(buf))
        if kind == "flip" and buf:
            buf[min(at, len(buf) - 1)] = arg
        elif kind == "insert":
            buf[at:at] = arg
        elif kind == "delete":
            del buf[at : at + arg]
        elif kind == "truncate":
            del buf[at:]
        elif kind == "duplicate":
            buf[at:at] = buf[at : at + arg]
    return bytes(buf)


def outcome(read: Callable[[], ParsedFile]) -> ParsedFile | list[tuple[str, str, int | None]]:
    """A parsed file, or the fatal issues that rejected it."""
    try:
        return read()
    except X12Error as rejected:
        issues = rejected.issues
    assert issues
    assert all(i.severity == "fatal" for i in issues)
    return [(i.code, i.severity, i.segment) for i in issues]


@settings(max_examples=400, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SAMPLES), st.lists(mutation, min_size=1, max_size=4))
def test_damaged_files_are_read_or_rejected_never_crash(
    sample: bytes, steps: list[tuple[str, float, Any]]
) -> None:
    data = mutate(sample, steps)
    result = outcome(lambda: read_835_file(data, "fuzz.835"))
    if isinstance(result, list):
        assert "internal-error" not in [code for code, _, _ in result]


class Trickle(io.RawIOBase):
    """A binary stream that hands out at most `size` bytes per read."""

    def __init__(self, data: bytes, size: int) -> None:
        self.data, self.size, self.at = data, size, 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        chunk = self.data[self.at : self.at + min(self.size, n if n >= 0 else self.size)]
        self.at += len(chunk)
        return chunk


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(SAMPLES),
    st.lists(mutation, max_size=2),
    st.integers(min_value=1, max_value=300),
)
def test_chunk_boundaries_do_not_change_the_result(
    sample: bytes, steps: list[tuple[str, float, Any]], size: int
) -> None:
    data = mutate(sample, steps)
    whole = outcome(lambda: read_835_file(data, "f.835"))
    trickled = outcome(lambda: read_835_file(Trickle(data, size), "f.835"))  # type: ignore[arg-type]
    assert trickled == whole


def test_a_file_without_terminators_is_rejected_without_holding_it_all(monkeypatch: Any) -> None:
    monkeypatch.setattr(x12_tokenizer, "MAX_SEGMENT_CHARS", 1000)
    data = render(interchange())[:106] + b"GS*" + b"X" * 5000
    result = outcome(lambda: read_835_file(data, "f.835"))
    assert result == [("segment-too-long", "fatal", None)]
