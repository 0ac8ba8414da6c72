"""Envelope integrity: control numbers and counts are checked and reported with their
location; a transaction without its SE rejects the file."""

from __future__ import annotations

import gc

import pytest

from reconciliation.x12 import X12SyntaxError, read_835
from tests.reconciliation.x12.builders import BODY, codes, interchange, read_bytes, render


def test_a_correct_envelope_has_no_issues() -> None:
    assert read_bytes(render(interchange(transactions=2))).all_issues == []


def test_trailer_counts_and_control_numbers_are_checked() -> None:
    segs = interchange(transactions=2)
    segs[-2] = "GE*3*41"  # 2 transactions, GS06 42
    segs[-1] = "IEA*2*000000043"  # 1 group, ISA13 000000042
    parsed = read_bytes(render(segs))
    assert codes(parsed.issues) == [
        ("ge-count", 39),
        ("ge-control", 39),
        ("iea-count", 40),
        ("iea-control", 40),
    ]
    ge_count = parsed.issues[0]
    assert (ge_count.element, ge_count.expected, ge_count.found) == ("GE01", "2", "3")
    assert ge_count.interchange_control == "000000042"
    assert all(r.issues == [] for r in parsed.remittances)


def test_se_count_and_control_are_checked() -> None:
    segs = interchange()
    segs[-3] = "SE*17*0002"  # 18 segments from ST to SE, ST02 0001
    (remit,) = read_bytes(render(segs)).remittances
    assert codes(remit.issues) == [("se-count", 20), ("se-control", 20)]
    assert (remit.issues[0].expected, remit.issues[0].found) == ("18", "17")
    assert remit.issues[0].transaction_control == "0001"


def test_missing_trailers_at_the_end_are_errors_not_rejections() -> None:
    parsed = read_bytes(render(interchange()[:-2]))
    assert codes(parsed.issues) == [("missing-ge", 20), ("missing-iea", 20)]
    assert len(parsed.remittances) == 1


@pytest.mark.parametrize("cut", [5, 12, 19])
def test_a_transaction_cut_before_its_se_rejects_the_file(cut: int) -> None:
    data = render(interchange()[:cut])
    with pytest.raises(X12SyntaxError) as raised:
        list(read_835(data, "cut.835"))
    (issue,) = raised.value.issues
    assert (issue.code, issue.segment, issue.transaction_control) == ("missing-se", cut, "0001")


def test_a_file_is_rejected_after_yielding_its_good_transactions() -> None:
    """Streaming: the first transaction is already out when the cut-off second is found, so
    the loader must treat the file atomically."""
    remits = read_835(render(interchange(transactions=2)[:-4]), "cut.835")
    assert next(remits).transaction_control == "0001"
    with pytest.raises(X12SyntaxError):
        next(remits)


def test_next_st_before_se_rejects_the_file() -> None:
    segs = interchange(transactions=2)
    del segs[19]  # the first SE
    with pytest.raises(X12SyntaxError) as raised:
        list(read_835(render(segs), "x.835"))
    assert [(i.code, i.segment, i.segment_id) for i in raised.value.issues] == [
        ("missing-se", 20, "ST")
    ]


@pytest.mark.parametrize(
    ("segs", "code", "segment"),
    [
        ([*interchange()[:2], *interchange()[2:-2]], "unexpected-segment", None),
        ([*interchange()[:2], "CLP*1*1*1*1", *interchange()[2:]], "unexpected-segment", 3),
        ([s.replace("ST*835", "ST*837") for s in interchange()], "not-835", 3),
        (interchange()[:1] + interchange()[2:], "unexpected-segment", 2),
    ],
)
def test_unreadable_structure_rejects_the_file(
    segs: list[str], code: str, segment: int | None
) -> None:
    if code == "unexpected-segment" and segment is None:
        segs = [s for s in segs if not s.startswith(("GE", "IEA"))] + ["GE*1*42"] * 2
        segment = len(segs)
    with pytest.raises(X12SyntaxError) as raised:
        list(read_835(render(segs), "x.835"))
    assert [(i.severity, i.code, i.segment) for i in raised.value.issues] == [
        ("fatal", code, segment)
    ]


def test_truncated_money_segments_reject_the_file() -> None:
    for short in ("CLP*2200397-00*1*70.44", "SVC*N4:00093505601*70.44", "CAS*CO*90", "BPR*I"):
        body = [
            short if s.startswith(short[:4]) and not s.startswith("CAS*PR") else s for s in BODY
        ]
        with pytest.raises(X12SyntaxError) as raised:
            list(read_835(render(interchange(body)), "x.835"))
        assert raised.value.issues[0].code == "truncated-segment", short


def test_garbage_in_numbers_is_an_error_issue_not_a_crash() -> None:
    body = [
        s.replace("70.44*29.26*30.00", "70.44*2X.26*30.001")
        .replace("CAS*CO*90*9.18", "CAS*CO*90*9.1.8")
        .replace("DTM*472*20260301", "DTM*472*20260231")
        .replace("29.26**30", "29.26**3O")
        for s in BODY
    ]
    (remit,) = read_bytes(render(interchange(body))).remittances
    assert codes(remit.issues) == [
        ("bad-amount", 12),
        ("bad-amount", 12),
        ("bad-number", 14),
        ("bad-date", 15),
        ("bad-amount", 17),
    ]
    assert [i.element for i in remit.issues] == ["CLP04", "CLP05", "SVC05", "DTM02", "CAS03"]
    assert remit.issues[-1].found == "9.1.8"
    assert remit.claims[0].paid_cents is None
    assert not remit.balanced


def test_the_garbage_collector_is_never_left_paused_for_the_caller() -> None:
    """The reader pauses the cyclic GC while it builds a transaction, never while the
    caller's loop body runs, and not after the file is read or rejected."""
    data = render(interchange(transactions=3))
    seen = [gc.isenabled() for _ in read_835(data, "x.835")]
    assert seen == [True, True, True]
    assert gc.isenabled()
    remits = read_835(data, "x.835")
    next(remits)
    remits.close()
    assert gc.isenabled()
    with pytest.raises(X12SyntaxError):
        list(read_835(render(interchange()[:5]), "cut.835"))
    assert gc.isenabled()
    gc.disable()
    try:
        assert [gc.isenabled() for _ in read_835(data, "x.835")] == [False] * 3
        assert not gc.isenabled()
    finally:
        gc.enable()
