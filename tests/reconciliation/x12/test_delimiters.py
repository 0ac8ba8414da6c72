"""Delimiters come from the ISA, and transport noise (line breaks, indentation, a BOM) is
removed before segments are split; a file without ISA reads as a bare ST..SE."""

from __future__ import annotations

import io

import pytest

from reconciliation.x12 import ClaimPayment, X12SyntaxError, read_835, segments
from tests.reconciliation.x12.builders import BODY, interchange, read_bytes, render, transaction

CLEAN = read_bytes(render(interchange()))


def summary(claims: list[ClaimPayment]) -> list[tuple[object, ...]]:
    """What a claim says, without where it sits in the file."""
    return [
        (
            c.claim_ref,
            c.status,
            c.charge_cents,
            c.paid_cents,
            c.patient_resp_cents,
            [(s.code, s.charge_cents, s.paid_cents, s.units, s.dates, s.refs) for s in c.services],
            [(a.level, a.group, a.reason, a.amount_cents) for a in c.all_adjustments],
        )
        for c in claims
    ]


def claims_of(data: bytes) -> list[object]:
    parsed = read_bytes(data)
    assert parsed.all_issues == []
    return [c for r in parsed.remittances for c in r.claims]


def test_the_reference_file_reads_clean() -> None:
    (remit,) = CLEAN.remittances
    assert remit.balanced
    assert remit.claims[0].services[0].ndc == "00093505601"


@pytest.mark.parametrize(
    "layout",
    [
        {"line_end": "\n"},
        {"line_end": "\r\n"},
        {"line_end": "\r\n", "indent": "    "},
        {"line_end": "\n", "indent": "\t"},
        {"bom": True},
        {"bom": True, "line_end": "\r\n", "indent": "  "},
        {"terminator": "\n"},
        {"terminator": "\r\n"},
        {"terminator": "\n", "indent": "  "},
        {"terminator": "\r"},
        {"element": "\x1f", "terminator": "\x1e"},
        {"element": "|", "terminator": "'"},
        {"wrap": 80},
        {"wrap": 7},
        {"wrap": 106},
        {"wrap": 105},
        {"wrap": 104},
        {"wrap": 1},
    ],
    ids=repr,
)
def test_layouts_read_the_same_claims(layout: dict[str, object]) -> None:
    assert claims_of(render(interchange(), **layout)) == CLEAN.remittances[0].claims  # type: ignore[arg-type]


def test_line_breaks_inside_elements_are_transport_noise() -> None:
    data = render(interchange(), wrap=7)
    assert b"2200397-00*1*70.44" not in data  # the claim's elements are broken across lines
    (remit,) = read_bytes(data).remittances
    assert remit.claims[0].charge_cents == 7_044
    assert remit.claims[0].services[0].code == "00093505601"


def test_gt_component_separator_from_isa16() -> None:
    body = [s.replace("N4:", "N4>").replace("CS:", "CS>") for s in BODY]
    parsed = read_bytes(render(interchange(body, component=">")))
    assert parsed.all_issues == []
    (remit,) = parsed.remittances
    assert remit.claims[0].services[0].code == "00093505601"
    assert remit.provider_adjustments[0].reference == "TXNFEE0306"


def test_several_interchanges_in_one_file() -> None:
    data = render(interchange(control=7), line_end="\n") + render(
        interchange(control=8, transactions=2), line_end="\n"
    )
    parsed = read_bytes(data)
    assert parsed.all_issues == []
    assert [(r.interchange_control, r.transaction_control) for r in parsed.remittances] == [
        ("000000007", "0001"),
        ("000000008", "0001"),
        ("000000008", "0002"),
    ]


@pytest.mark.parametrize(
    "layout", [{"terminator": "~"}, {"terminator": "~", "line_end": "\r\n"}, {"terminator": "\n"}]
)
def test_bare_st_se_without_envelope(layout: dict[str, str]) -> None:
    parsed = read_bytes(render(transaction(BODY), **layout))  # type: ignore[arg-type]
    assert [i.code for i in parsed.all_issues] == ["no-envelope"]
    (remit,) = parsed.remittances
    assert remit.interchange_control is None
    assert remit.balanced
    assert summary(remit.claims) == summary(CLEAN.remittances[0].claims)


def test_bare_st_se_takes_the_component_separator_from_svc01() -> None:
    body = [s.replace("N4:", "N4>").replace("CS:", "CS>") for s in BODY]
    parsed = read_bytes(render(transaction(body)))
    assert [i.code for i in parsed.all_issues] == ["no-envelope"]
    assert parsed.remittances[0].claims[0].services[0].code == "00093505601"


def test_raw_segment_view_normalizes_delimiters() -> None:
    data = render(interchange(), element="\x1f", terminator="\x1e", bom=True)
    view = list(segments(io.BytesIO(data)))
    assert view[0][0] == 1
    assert view[0][1][0] == "ISA"
    assert len(view[0][1]) == 17
    assert view[11] == (
        12,
        ["CLP", "2200397-00", "1", "70.44", "29.26", "30.00", "16", "0102600002200397"],
    )
    assert view[-1] == (len(view), ["IEA", "1", "000000042"])


def test_collapsed_isa_padding_is_read_with_a_warning() -> None:
    segs = interchange()
    segs[0] = "ISA*00**00**ZZ*1234509876*ZZ*1234567893*260306*0800*^*00501*000000042*0*P*:"
    parsed = read_bytes(render(segs, line_end="\n"))
    assert [(i.code, i.severity) for i in parsed.issues] == [("isa-not-fixed-width", "warning")]
    assert parsed.remittances[0].sender_id == "1234509876"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "not-x12"),
        (b"hello world", "not-x12"),
        (b"\xef\xbb\xbf   \r\n", "not-x12"),
        (b"ISA*00*", "isa-unreadable"),
        (b"ISA*00*          *00*          *ZZ*A*ZZ*B*260306*0800*^*00501*1*0*P*", "isa-unreadable"),
        (b"ISA*00*0*00*0*ZZ*A*ZZ*B*260306*0800*^*00501*1*0*P*~~GS", "isa-unreadable"),
        (b"ISAA00A0A00A0AZZAAAZZABA260306A0800A^A00501A1A0APA:~", "isa-unreadable"),
    ],
)
def test_unreadable_starts_are_rejected(data: bytes, code: str) -> None:
    with pytest.raises(X12SyntaxError) as raised:
        list(read_835(data, "bad.835"))
    assert [(i.severity, i.code) for i in raised.value.issues] == [("fatal", code)]
