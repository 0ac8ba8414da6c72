"""Fuzzing the inbound HL7 v2 reader (integrations.hl7): random text and bytes, and the
RDS^O13, VXU^V04 and ADT^A08 samples damaged segment by segment and field by field (dropped,
repeated, swapped, cut segments, odd encoding characters, huge numbers, NUL, lone
surrogates). The only exception is `Rejected`; whatever arrives, an ACK can be written for it
that reads back; the MLLP decoder takes any bytes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import integrations.hl7
from clinical.hl7.ack import read_segments
from integrations.hl7.ack import build_response, outcome_for
from integrations.hl7.messages import ERROR_CODES, Parsed, Rejected, parse_message, peek_header
from integrations.hl7.mllp import SB, TRAILER, Frame, FramingError, MllpDecoder
from tests.fuzz.mutations import ENCODINGS, encode, mutate_records, nasty_value, record_step
from tests.integrations.samples import adt, rds, vxu

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
EXAMPLES = Path(integrations.hl7.__file__).parent / "examples"

SAMPLES = [p.read_text() for p in sorted(EXAMPLES.glob("*.hl7"))] + [
    vxu(),
    rds(),
    adt(),
    vxu(extra_dose="\r".join(vxu(lot="L456").split("\r")[2:5])),  # two order groups
    rds(zcl=None),
]


def answer(text: str) -> Parsed | Rejected:
    """Read `text` as the service does, and write the ACK it would answer with."""
    try:
        parsed = parse_message(text)
    except Rejected as exc:
        rejected = exc
    else:
        for issue in parsed.issues:
            assert issue.reason
            assert issue.code in ERROR_CODES
            assert issue.severity in "EWI"
        _acknowledged(text, outcome_for(parsed.issues), parsed.issues)
        return parsed
    assert rejected.issue.reason
    assert rejected.issue.code in ERROR_CODES
    _acknowledged(text, "AR", [rejected.issue])
    return rejected


def _acknowledged(text: str, code: str, issues: list[Any]) -> None:
    facility, control_id, kind = peek_header(text)  # documented never to raise
    assert len(facility) <= 200
    assert len(control_id) <= 200
    assert len(kind) <= 20
    ack = build_response(text, code=code, issues=issues, sent_at=NOW)
    segments = read_segments(ack)
    assert segments[0].name == "MSH"
    msa = next(s for s in segments if s.name == "MSA")
    assert msa.component(1) == code
    assert sum(s.name == "ERR" for s in segments) == len(issues)


# --- random input ---------------------------------------------------------------------------


@FUZZ
@given(st.text(max_size=1500))
def test_random_text_is_answered(text: str) -> None:
    answer(text)


@FUZZ
@given(
    st.sampled_from(["MSH|^~\\&|", "MSH|^~\\&|A|4410001|B|C|20261001||RDS^O13|1|P|2.5.1\r"]),
    st.text(max_size=1500),
)
def test_random_text_after_a_header_is_answered(start: str, body: str) -> None:
    answer(start + body)


@FUZZ
@given(st.binary(max_size=1500), st.sampled_from(ENCODINGS))
def test_random_bytes_decoded_as_the_listener_does_are_answered(data: bytes, enc: str) -> None:
    answer(data.decode("utf-8", errors="replace"))
    answer(data.decode(enc, errors="replace"))


# --- damaged messages -----------------------------------------------------------------------


@FUZZ
@given(
    st.data(),
    st.lists(record_step, min_size=1, max_size=5),
    st.sampled_from(["\r", "\n", "\r\n"]),
)
def test_messages_damaged_segment_by_segment_are_answered(
    data: Any, steps: list[tuple[str, float, Any]], line_end: str
) -> None:
    sample = SAMPLES[data.draw(st.integers(0, len(SAMPLES) - 1))]
    segments = [s for s in sample.split("\r") if s]
    answer(line_end.join(mutate_records(segments, "|", steps)))


@FUZZ
@given(
    st.data(),
    st.sampled_from(["MSH", "PID", "ORC", "TQ1", "RXD", "RXR", "ZCL", "RXA", "OBX", "EVN"]),
    st.integers(1, 25),
    st.integers(0, 6),
    nasty_value
    | st.integers(-(10**40), 10**40).map(str)
    | st.decimals(allow_nan=True, allow_infinity=True).map(str),
)
def test_an_odd_value_in_any_field_or_component_is_answered(
    data: Any, segment_id: str, position: int, component: int, value: str
) -> None:
    sample = SAMPLES[data.draw(st.integers(0, len(SAMPLES) - 1))]
    segments = sample.split("\r")
    targets = [i for i, s in enumerate(segments) if s.startswith(segment_id + "|")]
    if targets:
        i = data.draw(st.sampled_from(targets))
        fields = segments[i].split("|")
        while len(fields) <= position:
            fields.append("")
        parts = fields[position].split("^")
        while len(parts) <= component:
            parts.append("")
        parts[component] = value
        fields[position] = "^".join(parts)
        segments[i] = "|".join(fields)
    answer("\r".join(segments))


@FUZZ
@given(st.data(), st.text(min_size=1, max_size=5), st.sampled_from(ENCODINGS))
def test_odd_encoding_characters_and_charsets_are_answered(
    data: Any, characters: str, enc: str
) -> None:
    """MSH-1/MSH-2 rewritten (a separator repeated, missing, or a letter), and the message
    sent in another charset and decoded as UTF-8 with replacement, as the listener does."""
    sample = SAMPLES[data.draw(st.integers(0, len(SAMPLES) - 1))]
    rewritten = "MSH" + characters + sample[8:]
    answer(rewritten)
    answer(encode(sample, enc).decode("utf-8", errors="replace"))


# --- MLLP -----------------------------------------------------------------------------------


@FUZZ
@given(
    st.lists(
        st.binary(max_size=60)
        | st.sampled_from([SB, TRAILER, b"\x1c", b"\r", SB + b"MSH|^~\\&|" + TRAILER]),
        max_size=12,
    ),
    st.integers(1, 2000),
)
def test_the_mllp_decoder_takes_any_bytes(pieces: list[bytes], max_frame: int) -> None:
    decoder = MllpDecoder(max_frame=max_frame)
    out: list[Frame | FramingError] = []
    for piece in pieces:
        out += decoder.feed(piece)
    out += decoder.close()
    for item in out:
        if isinstance(item, Frame):
            assert SB not in item.payload
            assert b"\x1c" not in item.payload
            assert len(item.payload) <= max_frame
        else:
            assert item.reason
            assert len(item.junk) <= max_frame
    assert not decoder.inside_frame


def test_the_samples_are_taken() -> None:
    """Fuzzing starts from messages that read (the RDS without ZCL reads, with issues)."""
    outcomes = []
    for sample in SAMPLES:
        parsed = answer(sample)
        assert isinstance(parsed, Parsed), parsed
        outcomes.append(outcome_for(parsed.issues))
    assert outcomes == ["AA"] * (len(SAMPLES) - 1) + ["AE"]
    assert len(answer(SAMPLES[-2]).doses) == 2  # type: ignore[union-attr]
