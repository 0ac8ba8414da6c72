"""What open-source 835 parsers get wrong, one test each: things they drop or crash on."""

from __future__ import annotations

from decimal import Decimal

from reconciliation.x12 import read_835_file
from tests.reconciliation.x12.builders import BODY, FIXTURES, codes, interchange, read_bytes, render


def test_multiple_plb_segments_and_multiple_transactions_are_all_read() -> None:
    plbs = [
        "PLB*1234567893*20261231*CS:FEE1*0.10*CS:FEE2*0.10*CS:FEE3*0.10*CS:FEE4*0.10*CS:FEE5*0.10"
        "*CS:FEE6*0.10",
        "PLB*1234567893*20261231*L6:INT2603*-0.50*WO:AUTH9*0.22",
    ]
    body = [s.replace("29.08", "28.94") for s in BODY[:-1]] + plbs
    parsed = read_bytes(render(interchange(body, transactions=3), line_end="\n"))
    assert parsed.all_issues == []
    assert [r.transaction_control for r in parsed.remittances] == ["0001", "0002", "0003"]
    for remit in parsed.remittances:
        assert [(a.reason, a.reference, a.amount_cents) for a in remit.provider_adjustments] == [
            *(("CS", f"FEE{k}", 10) for k in range(1, 7)),
            ("L6", "INT2603", -50),
            ("WO", "AUTH9", 22),
        ]
        assert remit.balanced  # 29.26 - (0.60 - 0.50 + 0.22) = 28.94
    nevada = read_835_file(
        FIXTURES / "edi835parser-affect_nevada-medicaid_3-st-plb_unpadded-isa.txt"
    )
    assert len(nevada.remittances) == 3
    assert len(nevada.remittances[2].provider_adjustments) == 6


def test_newline_terminated_file_returns_all_its_claims() -> None:
    tilde = read_835_file(FIXTURES / "edi835parser_emedny-ny-medicaid_denials-lq.txt")
    newline = read_835_file(FIXTURES / "x12parserjs_emedny_newline-segment-terminator.edi")
    assert len(newline.remittances[0].claims) == 3
    assert sum(len(c.services) for c in newline.remittances[0].claims) == 10
    assert newline.remittances[0].claims == tilde.remittances[0].claims


def test_claim_level_cas_and_plb_are_read() -> None:
    parsed = read_835_file(FIXTURES / "lfh_medicare-part-a_ts3-ts2-mia-moa-plb.835")
    claims = parsed.remittances[0].claims
    assert [(a.level, a.group, a.reason) for c in claims for a in c.adjustments] == [
        ("claim", "CO", "45"),
        ("claim", "CO", "45"),
    ]
    assert len(parsed.remittances[0].provider_adjustments) == 1


def test_every_cas_triplet_is_read_not_just_the_first() -> None:
    six = "CAS*CO*90*1.00**295*2.00**45*3.00*1*4*4.00**5*5.00**6*-6.00*2.5"
    body = [
        s.replace("CLP*2200397-00*1*70.44*29.26*30.00", "CLP*2200397-00*1*38.26*29.26")
        .replace("SVC*N4:00093505601*70.44*29.26", "SVC*N4:00093505601*38.26*29.26")
        .replace("CAS*CO*90*9.18**295*2.00", six)
        for s in BODY
        if not s.startswith("CAS*PR")
    ]
    parsed = read_bytes(render(interchange(body)))
    assert parsed.all_issues == []  # 38.26 - 29.26 = 1 + 2 + 3 + 4 + 5 - 6
    line = parsed.remittances[0].claims[0].services[0]
    assert [(a.reason, a.amount_cents, a.quantity) for a in line.adjustments] == [
        ("90", 100, None),
        ("295", 200, None),
        ("45", 300, Decimal(1)),
        ("4", 400, None),
        ("5", 500, None),
        ("6", -600, Decimal("2.5")),
    ]
    secondary = read_835_file(
        FIXTURES / "lfh_secondary-payment_multi-triplet-cas_composite-mismatch.835"
    )
    pr = [a for a in secondary.remittances[0].claims[1].services[1].adjustments if a.group == "PR"]
    assert [(a.reason, a.amount_cents) for a in pr] == [("1", 15_000), ("2", 7_000)]


def test_service_lines_survive_a_component_separator_mismatch() -> None:
    """SVC01 written `HC>12345>26` while ISA16 says `:`: pyx12 drops these lines silently,
    edi-835-parser crashes. We read the composite with the separator it uses, and warn."""
    for name, count in (
        ("lfh_secondary-payment_multi-triplet-cas_composite-mismatch.835", 2),
        ("lfh_cob-contractual_negative-cas.835", 1),
    ):
        remit = read_835_file(FIXTURES / name).remittances[0]
        lines = [s for c in remit.claims for s in c.services]
        assert len(lines) == count
        assert all(s.qualifier == "HC" for s in lines)
        (warning,) = [i for i in remit.issues if i.code == "composite-separator"]
        assert (warning.severity, warning.expected, warning.found) == ("warning", ":", ">")
        assert remit.balanced


def test_bom_and_unknown_status_code_do_not_crash() -> None:
    body = [s.replace("CLP*2200397-00*1*", "CLP*2200397-00*99*") for s in BODY]
    parsed = read_bytes(render(interchange(body), bom=True, line_end="\r\n"))
    (remit,) = parsed.remittances
    assert remit.claims[0].status == "99"
    assert codes(remit.issues) == [("unknown-status", 12)]
    assert remit.issues[0].severity == "warning"
    assert remit.balanced
    garbage = [s.replace("CLP*2200397-00*1*", "CLP*2200397-00*X1*") for s in BODY]
    (remit,) = read_bytes(render(interchange(garbage), bom=True)).remittances
    assert (remit.claims[0].status, codes(remit.issues)) == ("X1", [("bad-number", 12)])
