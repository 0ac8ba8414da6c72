"""The ACK^V04 reader and writer: pure, no database. The ACKs are written by hand in the
shape the CDC IG for immunization messaging shows (MSA, then one ERR per problem)."""

from __future__ import annotations

from datetime import UTC, datetime

import hl7
import pytest

from clinical.hl7.ack import (
    AckError,
    AckIssue,
    Outcome,
    build_ack,
    parse_ack,
    sandbox_answer,
    vxu_field,
)
from tests.clinical.test_vxu import er7

MSH = (
    "MSH|^~\\&|IRIS|IAIIS|RxRevOps|1234567|20261001120001-0500||ACK^V04^ACK|A-77|P|2.5.1"
    "|||NE|NE|||||Z23^CDCPHINVS"
)
NOW = datetime(2026, 10, 1, 17, 0, tzinfo=UTC)


def ack(*segments: str, sep: str = "\r") -> str:
    return sep.join([MSH, *segments]) + sep


def test_an_aa_is_accepted_and_names_the_message_it_acknowledges() -> None:
    parsed = parse_ack(ack("MSA|AA|C1"))
    assert parsed.code == "AA"
    assert parsed.control_id == "C1"
    assert parsed.message_control_id == "A-77"
    assert parsed.sending_application == "IRIS"
    assert parsed.issues == ()
    assert parsed.outcome is Outcome.ACCEPTED
    assert parsed.describe() == ""


def test_an_ae_with_an_error_is_rejected_with_the_field_and_the_registrys_words() -> None:
    parsed = parse_ack(
        ack(
            "MSA|AE|C1",
            "ERR||RXA^1^15^1^1|103^Table value not found^HL70357|E|5^Table value not "
            "found^HL70533|||Lot number L123 is not valid for this vaccine",
        )
    )
    (issue,) = parsed.issues
    assert issue == AckIssue(
        location="RXA-15",
        code="103",
        code_text="Table value not found",
        severity="E",
        application_code="5",
        application_text="Table value not found",
        diagnostic="",
        user_message="Lot number L123 is not valid for this vaccine",
    )
    assert issue.where == "RXA-15 (lot number)"
    assert parsed.outcome is Outcome.REJECTED
    assert parsed.describe() == (
        "Error: RXA-15 (lot number): Lot number L123 is not valid for this vaccine"
    )


def test_an_ae_with_only_warnings_is_accepted_with_warnings() -> None:
    parsed = parse_ack(
        ack(
            "MSA|AE|C1",
            "ERR||PID^1^11^5|101^Required field missing^HL70357|W||||Patient address is missing",
            "ERR||PD1^1^16|102^Data type error^HL70357|I",
        )
    )
    assert [i.severity for i in parsed.issues] == ["W", "I"]
    assert parsed.errors == []
    assert parsed.outcome is Outcome.ACCEPTED_WITH_WARNINGS
    assert parsed.describe().splitlines() == [
        "Warning: PID-11: Patient address is missing",
        "Information: PD1-16: Data type error",
    ]


def test_an_ae_that_names_no_problem_is_rejected() -> None:
    assert parse_ack(ack("MSA|AE|C1")).outcome is Outcome.REJECTED


def test_an_ar_is_rejected_and_msa3_text_is_kept() -> None:
    parsed = parse_ack(ack("MSA|AR|C1|Message rejected: MSH-4 facility 1234567 unknown"))
    assert parsed.outcome is Outcome.REJECTED
    assert parsed.text == "Message rejected: MSH-4 facility 1234567 unknown"
    assert parsed.describe() == "Message rejected: MSH-4 facility 1234567 unknown"


def test_an_aa_with_an_informational_err_is_accepted_with_warnings() -> None:
    parsed = parse_ack(ack("MSA|AA|C1", "ERR||RXA^1^10|0^Message accepted^HL70357|I"))
    assert parsed.outcome is Outcome.ACCEPTED_WITH_WARNINGS


def test_an_err_without_severity_is_taken_as_an_error() -> None:
    parsed = parse_ack(ack("MSA|AE|C1", "ERR||RXA^1^5|103^Table value not found^HL70357"))
    assert parsed.outcome is Outcome.REJECTED
    assert parsed.issues[0].text == "Table value not found"
    assert parsed.issues[0].describe() == "Error: RXA-5 (vaccine (CVX)): Table value not found"


def test_lf_crlf_and_mllp_framing_are_all_read() -> None:
    for text in (
        ack("MSA|AA|C1", sep="\n"),
        ack("MSA|AA|C1", sep="\r\n"),
        "\x0b" + ack("MSA|AA|C1") + "\x1c\r",
    ):
        assert parse_ack(text).control_id == "C1"


def test_escaped_delimiters_in_the_registrys_text_are_restored() -> None:
    parsed = parse_ack(ack("MSA|AE|C1", "ERR||RXA^1^15|||E|||Lot \\F\\ L\\S\\1 \\T\\ more"))
    assert parsed.issues[0].user_message == "Lot | L^1 & more"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("<html><body>Bad Gateway</body></html>", "Segment 1 is not an MSH header"),
        (ack().replace("ACK^V04^ACK", "VXU^V04^VXU_V04"), "MSH-9"),
        (ack(), "no MSA segment"),
        (ack("MSA|XX|C1"), "MSA-1"),
        (ack("MSA|AA|"), "MSA-2"),
        (ack("MSA|AE|C1", "ERR||RXA^1^15||Q"), "ERR-4"),
        (ack("MSA|AA|C1", "this is not a segment"), "Segment 3 has no segment id"),
    ],
)
def test_a_malformed_ack_raises_ack_error_saying_where(text: str, says: str) -> None:
    with pytest.raises(AckError) as caught:
        parse_ack(text)
    assert says in str(caught.value)


def test_msa_segment_number_is_named_in_the_error() -> None:
    with pytest.raises(AckError, match=r"Segment 2 \(MSA\), field MSA-1"):
        parse_ack(ack("MSA|ZZ|C1"))


# --- writing an ACK for a VXU ---------------------------------------------------------------


def test_built_ack_answers_the_vxu_it_was_given() -> None:
    vxu = er7()
    text = build_ack(vxu, code="AA", sent_at=NOW)
    parsed = parse_ack(text)
    assert parsed.code == "AA"
    assert parsed.control_id == "C1"
    assert parsed.outcome is Outcome.ACCEPTED

    # the independent hl7 package reads it the same way
    msg = hl7.parse(text)
    assert str(msg.segment("MSH")[9]) == "ACK^V04^ACK"
    assert str(msg.segment("MSH")[21]) == "Z23^CDCPHINVS"
    assert str(msg.segment("MSA")[1]) == "AA"
    assert str(msg.segment("MSA")[2]) == "C1"
    # sender and receiver are swapped
    assert str(msg.segment("MSH")[5]) == "RxRevOps"
    assert str(msg.segment("MSH")[6]) == "1234567"


def test_built_ack_with_an_error_round_trips() -> None:
    issue = AckIssue(
        location="RXA-15",
        code="103",
        code_text="Table value not found",
        severity="E",
        user_message="Lot L123 | unknown",
    )
    text = build_ack(er7(), code="AE", issues=[issue], sent_at=NOW)
    parsed = parse_ack(text)
    assert parsed.issues == (issue,)
    assert parsed.outcome is Outcome.REJECTED
    err = hl7.parse(text).segment("ERR")
    assert str(err[2]) == "RXA^1^15"
    assert str(err[4]) == "E"


def test_sandbox_rejects_a_lot_starting_with_reject_and_accepts_the_rest() -> None:
    vxu = er7()
    assert vxu_field(vxu, "RXA", 15) == "L123"
    assert parse_ack(sandbox_answer(vxu, sent_at=NOW)).outcome is Outcome.ACCEPTED
    rejected = parse_ack(sandbox_answer(vxu.replace("|L123|", "|REJECT9|"), sent_at=NOW))
    assert rejected.outcome is Outcome.REJECTED
    assert rejected.issues[0].where == "RXA-15 (lot number)"
    assert "REJECT9" in rejected.issues[0].text
