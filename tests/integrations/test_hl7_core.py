"""The pure HL7 v2 inbound core: MLLP framing, message reading, acknowledgments. No database."""

from __future__ import annotations

from datetime import UTC, date, datetime

import hl7
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.hl7.ack import build_response, outcome_for
from integrations.hl7.messages import Issue, Rejected, hl7_date, ndc11, parse_message
from integrations.hl7.mllp import Frame, FramingError, MllpDecoder, frame
from integrations.hl7.structure import structure_problem
from tests.integrations.samples import adt, field, rds, vxu

NOW = datetime(2026, 10, 1, 17, 0, tzinfo=UTC)


# --- framing ---------------------------------------------------------------------------------


def frames_of(events: list[Frame | FramingError]) -> list[bytes]:
    return [e.payload for e in events if isinstance(e, Frame)]


def test_two_frames_in_one_read_come_out_in_order() -> None:
    decoder = MllpDecoder()
    events = decoder.feed(frame(b"MSH|one") + frame(b"MSH|two"))
    assert events == [Frame(b"MSH|one"), Frame(b"MSH|two")]
    assert not decoder.inside_frame


def test_a_frame_split_anywhere_waits_for_its_end() -> None:
    decoder = MllpDecoder()
    assert decoder.feed(b"\x0bMSH|a") == []
    assert decoder.inside_frame
    assert decoder.feed(b"bc\x1c") == [Frame(b"MSH|abc")]
    assert decoder.feed(b"\r") == []  # the CR after EB is swallowed, not junk


def test_junk_before_a_frame_is_reported_and_the_frame_still_read() -> None:
    events = MllpDecoder().feed(b"HELLO" + frame(b"MSH|good"))
    assert isinstance(events[0], FramingError)
    assert events[0].junk == b"HELLO"
    assert events[1] == Frame(b"MSH|good")


def test_a_frame_cut_by_a_new_start_is_reported_and_the_new_frame_read() -> None:
    events = MllpDecoder().feed(b"\x0bMSH|cut" + frame(b"MSH|whole"))
    assert isinstance(events[0], FramingError)
    assert events[0].junk == b"MSH|cut"
    assert events[1] == Frame(b"MSH|whole")


def test_blank_lines_between_frames_are_not_junk() -> None:
    events = MllpDecoder().feed(frame(b"MSH|a") + b"\r\n" + frame(b"MSH|b"))
    assert events == [Frame(b"MSH|a"), Frame(b"MSH|b")]


def test_an_oversized_frame_is_refused_and_the_next_one_read() -> None:
    decoder = MllpDecoder(max_frame=10)
    events = decoder.feed(b"\x0b" + b"x" * 30)
    events += decoder.feed(b"y" * 30 + b"\x1c\r" + frame(b"MSH|ok"))
    assert [type(e) for e in events] == [FramingError, Frame]
    assert events[1] == Frame(b"MSH|ok")


def test_a_connection_ending_inside_a_frame_reports_the_cut_message() -> None:
    decoder = MllpDecoder()
    decoder.feed(b"\x0bMSH|half")
    (error,) = decoder.close()
    assert error.junk == b"MSH|half"
    assert decoder.close() == []


def junk_of(events: list[Frame | FramingError]) -> bytes:
    junk = b"".join(e.junk for e in events if isinstance(e, FramingError))
    return bytes(b for b in junk if b not in b"\r\n \t")


payloads = st.lists(
    st.binary(max_size=40).map(lambda b: b.replace(b"\x0b", b"").replace(b"\x1c", b"")),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(payloads=payloads, junk=st.binary(max_size=8), cuts=st.lists(st.integers(0, 400)))
def test_any_split_of_the_stream_gives_the_same_messages(
    payloads: list[bytes], junk: bytes, cuts: list[int]
) -> None:
    junk = junk.replace(b"\x0b", b"").replace(b"\x1c", b"")
    stream = junk + b"".join(frame(p) for p in payloads)
    whole = MllpDecoder().feed(stream)
    decoder = MllpDecoder()
    pieces: list[Frame | FramingError] = []
    points = sorted({c % (len(stream) + 1) for c in cuts})
    for a, b in zip([0, *points], [*points, len(stream)], strict=True):
        pieces += decoder.feed(stream[a:b])
    assert frames_of(pieces) == frames_of(whole) == payloads
    # the same junk is reported (a piece of it that is only blank is not junk on its own)
    assert junk_of(whole) == junk_of(pieces)
    assert decoder.close() == []


# --- reading ---------------------------------------------------------------------------------


def test_a_vxu_becomes_one_dose_with_its_patient() -> None:
    parsed = parse_message(vxu())
    assert parsed.header.kind == "VXU^V04"
    assert parsed.header.control_id == "VXU-1"
    assert parsed.header.sending_facility == "5500001"
    assert parsed.patient is not None
    assert parsed.patient.patient_id == "P100"
    assert parsed.patient.birth_date == date(1960, 2, 1)
    assert parsed.patient.postal_code == "62701"
    assert parsed.patient.phone == "2175550100"
    (dose,) = parsed.doses
    assert dose.record_id == "42"
    assert dose.values["cvx"] == "150"
    assert dose.values["lot"] == "L123"
    assert dose.values["lot_expiration"] == "2027-06-01"
    assert dose.values["route"] == "C28161"
    assert dose.values["site"] == "LD"
    assert dose.values["funding_eligibility"] == "V01"
    assert dose.values["vis_date"] == "2023-08-06"
    assert dose.vis_given_on == date(2026, 10, 1)
    assert parsed.issues == []


def test_an_rds_becomes_a_canonical_fill_row() -> None:
    parsed = parse_message(rds())
    (dispense,) = parsed.dispenses
    row = dispense.row
    assert row["rx_number"] == "1000123"
    assert row["fill_number"] == "0"  # RXD-1 = 1 is the original fill
    assert row["date_of_service"] == "2026-10-01"
    assert row["ndc"] == "00093726701"
    assert row["quantity_dispensed"] == "60"
    assert row["days_supply"] == "30"
    assert row["prescriber_npi"] == "1234567893"
    assert row["bin"] == "610014"
    assert row["total_amount_paid"] == "8.00"
    assert row["transaction_code"] == "B1"
    assert row["claim_status"] == "paid"
    assert row["patient_id"] == "P100"
    assert row["patient_dob"] == "1960-02-01"
    assert dispense.where["ndc"] == "RXD-2"


def test_an_rds_without_the_claim_segment_names_the_missing_amounts() -> None:
    parsed = parse_message(rds(zcl=None))
    assert parsed.dispenses == []
    (issue,) = parsed.issues
    assert issue.segment == "ZCL"
    assert issue.code == "101"
    assert "ZCL-11 total paid" in issue.reason


def test_field_errors_carry_segment_field_and_code() -> None:
    parsed = parse_message(rds(ndc="12345", quantity="lots", counter="0"))
    found = {i.location: i for i in parsed.issues}
    assert found["RXD-2"].code == "103"
    assert "'12345'" in found["RXD-2"].reason
    assert found["RXD-4"].code == "102"
    assert found["RXD-1"].code == "102"


def test_an_adt_carries_the_patient_demographics() -> None:
    parsed = parse_message(adt(last="Newname", phone="(217) 555-0199"))
    assert parsed.patient is not None
    assert parsed.patient.last_name == "Newname"
    assert parsed.patient.phone == "2175550199"


@pytest.mark.parametrize(
    ("text", "location", "code"),
    [
        ("", "MSH", "100"),
        ("PID|1||x", "MSH", "100"),
        (adt().replace("ADT-1", ""), "MSH-10", "101"),
        (adt().replace("ADT^A08^ADT_A01", "ORU^R01"), "MSH-9", "200"),
        (adt().replace("ADT^A08^ADT_A01", "ADT^A04"), "MSH-9", "201"),
        (adt().replace("|P|2.5.1", "|X|2.5.1"), "MSH-11", "202"),
        (adt().replace("|P|2.5.1", "|P|3.0"), "MSH-12", "203"),
        (adt().replace("EVN|A08|20261001120000\r", ""), "PID", "100"),
    ],
)
def test_a_message_that_cannot_be_taken_is_rejected_naming_where(
    text: str, location: str, code: str
) -> None:
    with pytest.raises(Rejected) as caught:
        parse_message(text)
    assert caught.value.issue.location == location
    assert caught.value.issue.code == code


def test_the_structure_check_names_the_segments_allowed() -> None:
    problem = structure_problem("VXU_V04", ["MSH", "ORC", "RXA"])
    assert problem is not None
    assert (problem.index, problem.segment) == (1, "ORC")
    assert "PID" in problem.expected
    assert structure_problem("RDS_O13", ["MSH", "PID", "ORC", "RXD", "RXR", "ZCL"]) is None


def test_hl7_dates_and_ndcs_normalize_once() -> None:
    assert hl7_date("20261001") == date(2026, 10, 1)
    assert hl7_date("202610011230-0500") == date(2026, 10, 1)
    assert hl7_date("20260230") is None
    assert hl7_date("2026100") is None
    assert ndc11("0093-7267-01") == "00093726701"
    assert ndc11("00093726701") == "00093726701"
    assert ndc11("0093726701") is None  # 10 digits without hyphens is ambiguous


# --- acknowledgments -------------------------------------------------------------------------


def test_an_accepted_message_gets_an_aa_echoing_its_control_id() -> None:
    ack = build_response(vxu(), code="AA", issues=[], sent_at=NOW)
    msg = hl7.parse(ack)
    assert str(msg.segment("MSH")[9]) == "ACK^V04^ACK"
    assert str(msg.segment("MSH")[3]) == "RxRevOps"  # sender and receiver swapped
    assert str(msg.segment("MSH")[5]) == "TestPMS"
    assert str(msg.segment("MSH")[6]) == "5500001"
    assert str(msg.segment("MSA")[1]) == "AA"
    assert str(msg.segment("MSA")[2]) == "VXU-1"
    assert "ERR" not in [str(s[0]) for s in msg]


def test_an_error_becomes_an_err_with_location_code_and_severity() -> None:
    issue = Issue("RXD-2 '12345' is not an NDC.", "RXD", 2, 1, "103")
    ack = build_response(rds(), code=outcome_for([issue]), issues=[issue], sent_at=NOW)
    assert field(ack, "MSH", 9) == "ACK^O13^ACK"
    assert field(ack, "MSA", 1) == "AE"
    assert field(ack, "MSA", 2) == "RDS-1"
    assert field(ack, "MSA", 3) == "RXD-2 '12345' is not an NDC."
    assert field(ack, "ERR", 2) == "RXD^1^2"
    assert field(ack, "ERR", 3) == "103^Table value not found^HL70357"
    assert field(ack, "ERR", 4) == "E"
    assert field(ack, "ERR", 8) == "RXD-2 '12345' is not an NDC."


def test_warnings_alone_still_accept() -> None:
    assert outcome_for([Issue("historical", "RXA", 9, severity="W")]) == "AA"
    assert outcome_for([], rejected=True) == "AR"


def test_unreadable_text_still_gets_an_ack() -> None:
    issue = Issue("The message does not start with an MSH segment.", "MSH", code="100")
    ack = build_response("\x00garbage", code="AR", issues=[issue], sent_at=NOW)
    assert field(ack, "MSA", 1) == "AR"
    assert field(ack, "MSA", 2) == ""
    assert field(ack, "MSH", 10).startswith("ACK-")
    assert field(ack, "ERR", 3).startswith("100^")


@pytest.mark.parametrize("name", ["adt_a08.hl7", "vxu_v04.hl7", "rds_o13.hl7"])
def test_the_example_files_read_clean(name: str) -> None:
    from pathlib import Path

    import integrations.hl7

    text = (Path(integrations.hl7.__file__).parent / "examples" / name).read_text()
    parsed = parse_message(text)
    assert parsed.issues == []
    assert parsed.header.sending_facility == "4410001"
    assert parsed.patient is not None
