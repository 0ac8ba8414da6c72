"""Golden tests on the public 835 samples (tests/fixtures/ingest/x12_835, see SOURCES.md).

Every number here was read off the file text by hand (segment numbers count ISA as 1), not
copied from the parser's output. Policy for the malformed samples:

- managed-care (BPR16 20002316 is no date): loads, error `bad-date`, payment_date None;
- secondary-payment and cob (SVC01 `>` under ISA16 `:`, BPR one element short): load, the
  lines read with a `composite-separator` warning, error `missing-element` for BPR16;
- bcbs-nc (no envelope, SE01 off by one, an SVC with empty amounts): loads with warning
  `no-envelope`, errors `missing-element` SVC02/SVC03 and `se-count`; not balanced since
  that line cannot be checked;
- nevada (collapsed ISA padding, IEA02 != ISA13): loads, warning `isa-not-fixed-width`,
  file-level error `iea-control`;
- nebraska (masked amounts): loads, every balancing failure reported, nothing else;
- oopfactory example1 (a CLP cut after CLP02): rejected whole, fatal `truncated-segment`.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal

import pytest

from reconciliation.x12 import (
    Adjustment,
    ParsedFile,
    X12SyntaxError,
    read_835,
    read_835_file,
    segments,
)
from tests.reconciliation.x12.builders import FIXTURES, codes

MEDICARE_A = "lfh_medicare-part-a_ts3-ts2-mia-moa-plb.835"
MANAGED_CARE = "lfh_managed-care_claim-and-line-cas.835"
SECONDARY = "lfh_secondary-payment_multi-triplet-cas_composite-mismatch.835"
COB = "lfh_cob-contractual_negative-cas.835"
EMEDNY = "edi835parser_emedny-ny-medicaid_denials-lq.txt"
EMEDNY_NEWLINE = "x12parserjs_emedny_newline-segment-terminator.edi"
UHC = "edi835parser_uhc-legacy_gt-component-separator.txt"
BCBS = "edi835parser_bcbs-nc_no-isa-gs-envelope.txt"
NEVADA = "edi835parser-affect_nevada-medicaid_3-st-plb_unpadded-isa.txt"
PYX12 = "pyx12_mult-loops_zero-pay-denial-ts3.txt"
EXAMPLE1 = "oopfactory_example1_reversals-clp22-plb_bom-crlf-indented.txt"
NEBRASKA = "oopfactory_nebraska-medicaid-deident_3-isa_bom-indented.txt"


def read(name: str) -> ParsedFile:
    return read_835_file(FIXTURES / name)


def triplets(adjustments: list[Adjustment]) -> list[tuple[str, str, int]]:
    return [(a.group, a.reason, a.amount_cents) for a in adjustments]


def test_every_sample_file_is_covered_here() -> None:
    names = {p.name for p in FIXTURES.iterdir()} - {"SOURCES.md"}
    assert names == {
        MEDICARE_A,
        MANAGED_CARE,
        SECONDARY,
        COB,
        EMEDNY,
        EMEDNY_NEWLINE,
        UHC,
        BCBS,
        NEVADA,
        PYX12,
        EXAMPLE1,
        NEBRASKA,
    }
    assert (FIXTURES / "SOURCES.md").exists()  # the attribution notice travels with them


def test_medicare_part_a_reads_claim_level_cas_mia_moa_and_the_plb() -> None:
    parsed = read(MEDICARE_A)
    assert parsed.all_issues == []
    (remit,) = parsed.remittances
    assert (remit.interchange_control, remit.group_control, remit.transaction_control) == (
        "000000907",
        "1",
        "1234",
    )
    assert (remit.sender_id, remit.receiver_id) == ("000000005", "12345")
    assert (remit.first_segment, remit.last_segment) == (3, 30)
    assert (remit.handling_code, remit.paid_cents, remit.credit_debit, remit.method) == (
        "C",
        15_000_000,
        "C",
        "ACH",
    )
    assert remit.payment_date == date(2002, 9, 13)
    assert remit.production_date == date(2002, 9, 16)
    assert (remit.trace_number, remit.trace_originator) == ("12345", "1512345678")
    assert (remit.payer_name, remit.payer_id) == ("INSURANCE COMPANY OF TIMBUCKTU", "999")
    assert (remit.payee_name, remit.payee_npi) == ("REGIONAL HOPE HOSPITAL", "6543210903")
    first, second = remit.claims
    assert (first.claim_ref, first.status, first.charge_cents, first.paid_cents) == (
        "666123",
        "1",
        21_136_697,
        13_801_840,
    )
    assert (first.filing_indicator, first.payer_claim_control) == ("MA", "1999999444444")
    assert (first.facility_type, first.frequency, first.header_number) == ("11", "1", "110212")
    assert first.services == []
    assert triplets(first.adjustments) == [("CO", "45", 7_334_857)]
    assert first.adjustments[0].level == "claim"
    assert first.patient_last_name == "JONES"
    assert first.member_id == "666666666A"
    assert first.inpatient == ["0", "", "", "138018.40"]
    assert first.dates == {"232": date(2002, 8, 16), "233": date(2002, 8, 24)}
    assert first.quantities == {"CA": Decimal("8.00")}
    assert (second.claim_ref, second.charge_cents, second.paid_cents) == (
        "777777",
        1_500_000,
        1_198_033,
    )
    assert second.header_number == "130212"
    assert second.outpatient == ["", "", "MA02"]
    assert triplets(second.adjustments) == [("CO", "45", 301_967)]
    (plb,) = remit.provider_adjustments
    assert (plb.provider_id, plb.fiscal_period, plb.reason, plb.reference) == (
        "6543210903",
        date(2002, 12, 31),
        "CV",
        "CP",
    )
    assert (plb.amount_cents, plb.segment) == (-127, 29)
    # 138,018.40 + 11,980.33 - (-1.27) = 150,000.00
    assert remit.balanced


def test_managed_care_reads_claim_and_line_cas_and_flags_the_impossible_bpr16() -> None:
    parsed = read(MANAGED_CARE)
    (remit,) = parsed.remittances
    assert codes(remit.issues) == [("bad-date", 4)]
    issue = remit.issues[0]
    assert (issue.severity, issue.element, issue.found, issue.loop) == (
        "error",
        "BPR16",
        "20002316",
        "header",
    )
    assert (issue.interchange_control, issue.transaction_control) == ("000000907", "112233")
    assert remit.payment_date is None
    assert remit.paid_cents == 94_500
    assert remit.payee_tin == "777667755"
    first, second = remit.claims
    assert (first.charge_cents, first.paid_cents, first.patient_resp_cents) == (
        80_000,
        45_000,
        30_000,
    )
    assert triplets(first.adjustments) == [("CO", "A2", 5_000)]
    (line,) = first.services
    assert (line.qualifier, line.code, line.charge_cents, line.paid_cents) == (
        "HC",
        "99211",
        80_000,
        50_000,
    )
    assert line.dates == {"150": date(2002, 3, 1), "151": date(2002, 3, 4)}
    assert triplets(line.adjustments) == [("PR", "1", 30_000)]
    assert triplets(second.adjustments) == [("CO", "A2", 5_500)]
    assert triplets(second.services[0].adjustments) == [("PR", "1", 60_000), ("CO", "45", 5_000)]
    # 800 - 450 = 50 + 300; 1200 - 495 = 55 + 600 + 50; BPR 945 = 450 + 495
    assert remit.balanced


def test_secondary_payment_reads_every_triplet_and_the_mismatched_composites() -> None:
    parsed = read(SECONDARY)
    (remit,) = parsed.remittances
    assert codes(remit.issues) == [("missing-element", 4), ("composite-separator", 29)]
    assert [i.severity for i in remit.issues] == ["error", "warning"]
    assert remit.payment_date is None
    assert remit.paid_cents == 122_200
    first, second = remit.claims
    assert [c.status for c in remit.claims] == ["2", "2"]
    assert first.services == []
    assert triplets(first.adjustments) == [("OA", "23", 941_164)]
    assert first.amounts == {"AU": 91_200}
    assert first.parties["82"].last_name == "ACME MEDICAL CENTER"
    lines = second.services
    assert [(s.qualifier, s.code, s.modifiers) for s in lines] == [
        ("HC", "12345", ["26"]),
        ("HC", "66543", ["26"]),
    ]
    assert [(s.charge_cents, s.paid_cents, s.units) for s in lines] == [
        (16_650, 3_000, Decimal("1.00")),
        (58_500, 28_000, Decimal("1.00")),
    ]
    assert lines[1].revenue_code == "220"
    assert triplets(lines[1].adjustments) == [
        ("PR", "1", 15_000),
        ("PR", "2", 7_000),
        ("CO", "42", 8_500),
    ]
    assert [s.amounts for s in lines] == [{"B6": 15_000}, {"B6": 50_000}]
    assert second.patient_resp_cents == 22_000
    assert remit.balanced


def test_cob_reads_a_negative_cas_amount() -> None:
    (remit,) = read(COB).remittances
    assert codes(remit.issues) == [("missing-element", 4), ("composite-separator", 21)]
    (claim,) = remit.claims
    (line,) = claim.services
    assert (line.code, line.charge_cents, line.paid_cents) == ("55669", 54_100, 3_400)
    assert triplets(line.adjustments) == [("OA", "23", 51_600), ("OA", "94", -900)]
    assert line.refs == {"1B": "44280"}
    assert line.amounts == {"B6": 55_000}
    assert claim.dates == {"232": date(2005, 2, 2), "233": date(2005, 2, 2)}
    assert remit.balanced  # 541 - 34 = 516 - 9


@pytest.mark.parametrize("name", [EMEDNY, EMEDNY_NEWLINE])
def test_emedny_reads_modifiers_denials_and_remark_codes(name: str) -> None:
    parsed = read(name)
    assert parsed.all_issues == []
    (remit,) = parsed.remittances
    assert (remit.paid_cents, remit.payment_date) == (4_575, date(2010, 1, 1))
    assert [c.status for c in remit.claims] == ["1", "2", "2"]
    assert [(c.charge_cents, c.paid_cents) for c in remit.claims] == [
        (3_425, 3_425),
        (3_400, 0),
        (3_425, 1_150),
    ]
    assert [len(c.services) for c in remit.claims] == [4, 2, 4]
    first = remit.claims[0].services[0]
    assert (first.qualifier, first.code, first.modifiers, first.units) == (
        "HC",
        "V2020",
        ["RB"],
        Decimal("1"),
    )
    assert remit.claims[0].parties["74"].last_name == "CORRECTED LAST"
    assert [triplets(s.adjustments) for s in remit.claims[1].services] == [
        [("CO", "29", 1_200)],
        [("CO", "29", 2_200)],
    ]
    third = remit.claims[2].services
    assert [s.remarks for s in third] == [[], [], [("HE", "N206")], [("HE", "N206")]]
    assert third[1].dates == {"472": date(2013, 9, 17)}
    assert remit.balanced


def test_uhc_reads_gt_component_separator_and_two_triplet_cas() -> None:
    parsed = read(UHC)
    assert parsed.all_issues == []
    (remit,) = parsed.remittances
    assert remit.trace_reference == "000088888"
    assert (remit.payer_id, remit.paid_cents) == ("87726", 34_999)
    assert [len(c.services) for c in remit.claims] == [2, 3]
    last = remit.claims[1].services[2]
    assert (last.qualifier, last.code, last.units) == ("HC", "B4154", Decimal("178"))
    assert triplets(last.adjustments) == [
        ("PR", "2", 513),
        ("PR", "1", 11_000),
        ("CO", "45", 18_432),
    ]
    assert remit.claims[0].parties["74"].middle_name == "C"
    assert remit.claims[0].refs == {"1L": "12345", "CE": "ILLINOIS DEPARTMENT OF CMS"}
    assert remit.balanced


def test_bcbs_without_envelope_reads_and_reports_the_se_count_and_empty_amounts() -> None:
    parsed = read(BCBS)
    assert codes(parsed.issues) == [("no-envelope", 1)]
    (remit,) = parsed.remittances
    assert codes(remit.issues) == [
        ("missing-element", 28),
        ("missing-element", 28),
        ("se-count", 32),
    ]
    assert [i.element for i in remit.issues] == ["SVC02", "SVC03", "SE01"]
    assert (remit.issues[2].expected, remit.issues[2].found) == ("32", "33")
    assert (remit.interchange_control, remit.sender_id, remit.transaction_control) == (
        None,
        None,
        "1234",
    )
    (claim,) = remit.claims
    assert claim.dates == {"050": date(2011, 1, 3)}
    first, _second, third = claim.services
    assert (first.original_qualifier, first.original_code) == ("HC", "59410")
    assert (third.charge_cents, third.paid_cents, third.original_units) == (
        None,
        None,
        Decimal(742),
    )
    assert claim.balanced  # 2100 - 1922.86 = 34.60 + 117.54 + 25
    assert not third.balanced
    assert not remit.balanced


def test_nevada_reads_three_transactions_a_plb_only_one_and_the_collapsed_isa() -> None:
    parsed = read(NEVADA)
    assert codes(parsed.issues) == [("isa-not-fixed-width", 1), ("iea-control", 67)]
    assert (parsed.issues[1].expected, parsed.issues[1].found) == ("100000300", "100000301")
    assert [r.issues for r in parsed.remittances] == [[], [], []]
    first, second, third = parsed.remittances
    assert [(r.first_segment, r.last_segment) for r in parsed.remittances] == [
        (3, 24),
        (25, 53),
        (54, 65),
    ]
    assert [[c.status for c in r.claims] for r in parsed.remittances] == [["4"], ["2", "4"], []]
    assert [r.paid_cents for r in parsed.remittances] == [0, 0, 181_227]
    assert (first.handling_code, first.method) == ("H", "NON")
    (claim,) = first.claims
    assert (claim.charge_cents, claim.paid_cents) == (7_223_200, 0)
    assert [(a.group, a.reason, a.amount_cents, a.quantity) for a in claim.adjustments] == [
        ("OA", "147", 5_001_600, Decimal(0)),
        ("CO", "26", 2_221_600, Decimal(0)),
    ]
    assert set(claim.parties) == {"QC", "74", "PR", "GB"}
    assert second.payee_name == "VALLEY"
    assert [(a.reason, a.reference, a.amount_cents) for a in third.provider_adjustments] == [
        ("CT", "888888888", -109_246),
        ("CT", "888888888", -71_981),
        ("CS", "8888888888887", -18_155),
        ("CS", "8888888888887", 18_155),
        ("CS", "8888888888888", -13_000),
        ("CS", "8888888888888", 13_000),
    ]
    assert {a.fiscal_period for a in third.provider_adjustments} == {date(2018, 12, 31)}
    assert all(r.balanced for r in parsed.remittances)  # 0 - (-1812.27) = 1812.27


def test_pyx12_sample_reads_the_zero_pay_denial_with_three_lines() -> None:
    parsed = read(PYX12)
    assert parsed.all_issues == []
    (remit,) = parsed.remittances
    assert (remit.handling_code, remit.paid_cents, remit.method) == ("H", 0, "NON")
    (claim,) = remit.claims
    assert (claim.status, claim.charge_cents, claim.paid_cents) == ("4", 91_539, 0)
    assert [(s.charge_cents, s.units) for s in claim.services] == [
        (50_004, Decimal(68)),
        (12_780, Decimal(16)),
        (28_755, Decimal(36)),
    ]
    assert [triplets(s.adjustments) for s in claim.services] == [
        [("CO", "16", 50_004)],
        [("OA", "A7", 12_780)],
        [("OA", "A7", 28_755)],
    ]
    assert [s.remarks for s in claim.services] == [[("HE", "N14")]] * 3
    assert claim.parties["82"].id == "44452736"
    assert remit.balanced


def test_example1_with_a_truncated_clp_is_rejected_whole() -> None:
    with pytest.raises(X12SyntaxError) as raised:
        list(read_835(FIXTURES / EXAMPLE1))
    (issue,) = raised.value.issues
    assert (issue.severity, issue.code, issue.segment, issue.segment_id) == (
        "fatal",
        "truncated-segment",
        98,
        "CLP",
    )
    assert (issue.loop, issue.interchange_control, issue.transaction_control) == (
        "2100",
        "004075123",
        "07504123",
    )
    assert issue.found == "CLP|090909|22"
    assert "CLP" in str(raised.value)


def test_example1_without_its_truncated_clp_reads_reversals_and_three_triplet_cas() -> None:
    """The same file with the cut-off CLP line removed: the reversals and zero/negative CAS
    it exercises, and the BPR that does not balance (the PLB interest is not in BPR02)."""
    raw = (FIXTURES / EXAMPLE1).read_bytes()
    cut = raw.replace(b"        CLP*090909*22~\r\n", b"")
    assert len(cut) == len(raw) - len(b"        CLP*090909*22~\r\n")
    parsed = read_835_file(cut, "example1-cut")
    assert codes(parsed.issues) == [("unexpected-version", 1), ("unexpected-version", 2)]
    (remit,) = parsed.remittances
    # SE01 still says 98; BPR02 5.75 = sum of CLP04, but the PLB of -1.27 makes it 7.02
    assert codes(remit.issues) == [("unbalanced-payment", 4), ("se-count", 99)]
    assert (remit.issues[0].expected, remit.issues[0].found) == ("$7.02", "$5.75")
    statuses = [c.status for c in remit.claims]
    assert statuses == ["1", "4", "4", "2", "4", "1", "25", "22", "22"]
    reversal = remit.claims[7]
    assert (reversal.claim_ref, reversal.is_reversal) == ("123456", True)
    assert (reversal.charge_cents, reversal.paid_cents) == (-4_258, -4_258)
    (line,) = reversal.services
    assert (line.code, line.modifiers, line.units) == ("H0036", ["GT", "UK"], Decimal(-2))
    assert [(a.group, a.reason, a.amount_cents, a.quantity) for a in line.adjustments] == [
        ("CR", "141", 0, Decimal(0)),
        ("CR", "42", 0, Decimal(0)),
        ("CR", "22", 0, Decimal(0)),
        ("OA", "141", 0, Decimal(0)),
    ]
    denied = remit.claims[4].services[0]
    assert triplets(denied.adjustments) == [
        ("CO", "42", 0),
        ("OA", "23", 5_760),
        ("OA", "23", -108),
    ]
    last = remit.claims[8].services[0]
    assert (last.amounts, last.quantities, last.remarks) == (
        {"AU": 8_676},
        {"NE": Decimal(53)},
        [("HE", "MA92")],
    )
    assert all(c.balanced for c in remit.claims)
    assert not remit.balanced


def test_nebraska_reads_three_interchanges_and_reports_each_masked_imbalance() -> None:
    parsed = read(NEBRASKA)
    assert parsed.issues == []
    remits = parsed.remittances
    assert [(r.interchange_control, r.group_control, r.transaction_control) for r in remits] == [
        ("000000031", "8", "8001"),
        ("000000032", "9", "9001"),
        ("000000033", "10", "10001"),
    ]
    claims = [c for r in remits for c in r.claims]
    assert [len(r.claims) for r in remits] == [19, 23, 14]
    assert sum(len(c.services) for c in claims) == 91
    assert sum(len(s.remarks) for c in claims for s in c.services) == 98
    assert Counter(c.status for c in claims) == {"1": 39, "4": 16, "2": 1}
    assert [r.paid_cents for r in remits] == [99_999, 999_999, 48_213]
    assert remits[0].claims[0].services[0].qualifier == "XX"  # ISA16 '>' composites
    # expected segment numbers from an independent awk pass over the file text
    by_code: dict[str, list[int | None]] = {}
    for issue in sorted(parsed.all_issues, key=lambda i: i.segment or 0):
        by_code.setdefault(issue.code, []).append(issue.segment)
    assert by_code["unbalanced-payment"] == [4, 295, 564]
    assert by_code["unbalanced-claim"] == [
        *(18, 34, 50, 75, 107, 123, 139, 150, 159, 175, 188, 204, 224, 237, 246, 255, 264),
        *(309, 326, 337, 348, 359, 370, 381, 392, 403, 414, 425, 436, 447, 458, 468, 478),
        *(488, 498, 508, 518, 528, 538, 548, 578, 592, 613, 636, 663, 677, 698, 716, 726),
        *(736, 756),
    ]
    assert by_code["unbalanced-line"] == [
        *(145, 155, 209, 229, 233, 242, 251, 260, 332, 343, 354, 365, 376, 387, 398, 409),
        *(420, 431, 442, 453, 464, 474, 484, 494, 504, 514, 524, 534, 544, 554, 584, 598),
        *(619, 623, 632, 642, 646, 669, 683, 708, 712, 722, 732, 742, 762, 766, 770, 774),
        *(778, 782),
    ]
    assert set(by_code) == {"unbalanced-payment", "unbalanced-claim", "unbalanced-line"}
    first = next(i for i in parsed.all_issues if i.code == "unbalanced-claim")
    # CLP 999.99 charged, 0 paid; its lines adjust 999.99 + 99.99
    assert (first.expected, first.found) == ("$999.99", "$1,099.98")


def test_segment_numbers_in_issues_point_at_the_segment_they_name() -> None:
    for name in (NEBRASKA, BCBS, SECONDARY, NEVADA):
        by_number = dict(segments(FIXTURES / name))
        for issue in read(name).all_issues:
            if issue.segment_id is not None and issue.segment is not None:
                assert by_number[issue.segment][0] == issue.segment_id, (name, issue)
