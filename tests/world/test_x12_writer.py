"""The 835 writer: every delimiter style passes pyx12, every file balances, pharmacy
adjustments (reversals, DIR, copay, ingredient cost, PLB fees, recoveries and interest) are
written the way payers send them, and the same remittance always gives the same bytes."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import pyx12

from demo.world.model import (
    Location,
    Payer,
    ProviderAdjustment,
    RemitAdjustment,
    RemitClaim,
    Remittance,
)
from demo.world.x12 import remittance_to_x12, remittances_to_x12

X12VALID = Path(sys.executable).parent / "x12valid"
MAP_835 = "835.5010.X221.A1.xml"  # the map pyx12 uses for 005010X221A1
PAID_ON = date(2026, 3, 6)

LOCATION = Location(
    ncpdp="4499001",
    npi="1234567893",
    name="Elm Street Pharmacy \u2014 Downtown",
    street="12 Elm St",
    city="Ames",
    state="IA",
    zip="50010",
    pms_vendor="pioneerrx",
    cost_factor=Decimal("1.00"),
)


def a_payer(**changes: object) -> Payer:
    payer = Payer(
        key="acme_d",
        name="Acme Rx Medicare Part D",
        bin="012345",
        pcn="ACMED",
        group="GRP100",
        plan_type="medicare_d",
        contract="value_based",
        payer_id="1234509876",
        pay_cycle_days=7,
        pay_lag_days=10,
        generic_mac_factor=Decimal("1.20"),
        brand_awp_discount=Decimal("0.18"),
        dispensing_fee_cents=75,
        generic_copay_cents=0,
        brand_copay_cents=4700,
        short_pay_rate=0.0,
        never_pay_rate=0.0,
        duplicate_rate=0.0,
        clawback_rate=0.0,
        reversal_ignored_rate=0.0,
        dir_on_claim=True,
        transaction_fee_cents=18,
        performance_fee_pct=Decimal("0"),
        network_fee_cents=0,
        delimiters="standard",
    )
    return dataclasses.replace(payer, **changes)  # type: ignore[arg-type]


def a_claim(
    rx_number: int,
    *,
    charge: int,
    paid: int,
    copay: int = 0,
    dir_fee: int = 0,
    reversal: bool = False,
    quantity: str = "30",
) -> RemitClaim:
    """A claim whose shortfall is explained as payers do: PR-3 copay, CO-295 DIR, and the rest
    as CO-90 ingredient cost. A reversal negates every amount."""
    parts = [
        ("PR", "3", copay),
        ("CO", "90", charge - paid - copay - dir_fee),
        ("CO", "295", dir_fee),
    ]
    sign = -1 if reversal else 1
    return RemitClaim(
        claim_key=("4499001", rx_number, 0, date(2026, 2, 20), "B2" if reversal else "B1"),
        rx_ref=f"{rx_number}-00",
        status="22" if reversal else "1",
        charge_cents=sign * charge,
        paid_cents=sign * paid,
        patient_resp_cents=sign * copay,
        payer_claim_id=f"0102600{rx_number:09d}",
        ndc="00093505601",
        quantity=Decimal(quantity),
        date_of_service=date(2026, 2, 20),
        adjustments=tuple(RemitAdjustment(g, r, sign * c) for g, r, c in parts if c),
        patient_last="Nguyen",
        patient_first="Ada",
        cardholder_id="AC123456789",
    )


def a_remittance(
    claims: list[RemitClaim], adjustments: list[ProviderAdjustment] | None = None
) -> Remittance:
    return Remittance(
        payer="acme_d",
        location=LOCATION.ncpdp,
        payment_date=PAID_ON,
        trace_number="98760010260306",
        claims=claims,
        provider_adjustments=adjustments or [],
    )


def a_busy_remittance() -> Remittance:
    """Paid claims with copay, ingredient cost and DIR, a take-back, and check-level fees,
    an overpayment recovery and interest."""
    return a_remittance(
        [
            a_claim(2200397, charge=7044, paid=2926, copay=3000, dir_fee=118),
            a_claim(2200412, charge=1299, paid=1050, quantity="2.5"),
            a_claim(2100876, charge=67753, paid=50255, copay=4700, dir_fee=1200),
            a_claim(2100120, charge=2273, paid=1546, copay=500, reversal=True),
        ],
        [
            ProviderAdjustment("CS", "TXNFEE0306", 54),
            ProviderAdjustment("WO", "0102600002100033", 467),
            ProviderAdjustment("L6", "INT2603", -109),
        ],
    )


def write(remit: Remittance, style: str, tmp_path: Path, **changes: object) -> tuple[Path, bytes]:
    data = remittance_to_x12(
        remit,
        payer=a_payer(**changes),
        location=LOCATION,
        interchange_control=42,
        delimiters=style,
    )
    path = tmp_path / f"835-{style}.edi"
    path.write_bytes(data)
    return path, data


def x12valid(path: Path, *, map_path: Path | None = None) -> str:
    """pyx12's verdict on a file. Its console script's exit status says nothing about the
    verdict (pyx12 4.0.0 exits 1 after every completed run), so the verdict line is what counts:
    '<file>: OK' or '<file>: Failure'. It also logs a traceback on every 835 because it cannot
    build the 999 acknowledgement without ST03, which its 835 map marks as not used."""
    maps = ["--map-path", str(map_path)] if map_path else []
    result = subprocess.run(
        [str(X12VALID), *maps, str(path)],
        capture_output=True,
        text=True,
        cwd=path.parent,
        timeout=120,
    )
    return result.stdout + result.stderr


def assert_valid(path: Path, *, map_path: Path | None = None) -> None:
    report = x12valid(path, map_path=map_path)
    assert f"{path}: OK" in report, report


def maps_allowing_repeated_plb(tmp_path: Path) -> Path:
    """pyx12's maps with one defect fixed. Its 835 map models the footer as a loop that occurs
    once and starts with PLB, so a second PLB segment opens a second footer and is reported as
    'Loop FOOTER exceeded max count', although the TR3 lets PLB repeat (max use >1)."""
    stock = Path(pyx12.__file__).parent / "map"
    fixed = tmp_path / "pyx12-maps"
    fixed.mkdir()
    for entry in stock.iterdir():
        if entry.name != MAP_835:
            (fixed / entry.name).symlink_to(entry)
    footer = '<loop xid="FOOTER" type="wrapper">'
    text = (stock / MAP_835).read_text()
    start = text.index(footer)
    end = text.index("</repeat>", start)
    assert text[start:end].endswith("<repeat>1")
    (fixed / MAP_835).write_text(text[: end - 1] + "&gt;1" + text[end:])
    return fixed


def split_segments(data: bytes) -> list[list[str]]:
    """Segments by the delimiters the ISA declares. A newline at ISA position 106 is the
    segment terminator; any other newline is line wrapping and is dropped first."""
    text = data.decode("ascii")
    if text[105] != "\n":
        text = text.replace("\n", "")
    element, terminator = text[3], text[105]
    return [s.split(element) for s in text.split(terminator) if s]


def amounts(values: list[str]) -> Decimal:
    return sum((Decimal(v) for v in values if v), Decimal(0))


def assert_balances(segments: list[list[str]]) -> None:
    """BPR02 = sum(CLP04) - sum(PLB amounts); per claim CLP03 - CLP04 = sum(CAS), with the
    single SVC line repeating the claim's charge and payment."""
    bpr = next(Decimal(s[2]) for s in segments if s[0] == "BPR")
    claims = [s for s in segments if s[0] == "CLP"]
    plb = sum((amounts(s[4::2]) for s in segments if s[0] == "PLB"), Decimal(0))
    assert bpr == sum(Decimal(c[4]) for c in claims) - plb
    for clp, group in zip(claims, claim_groups(segments), strict=True):
        svc = next(s for s in group if s[0] == "SVC")
        assert (svc[2], svc[3]) == (clp[3], clp[4])
        cas = sum((amounts(s[3::3]) for s in group if s[0] == "CAS"), Decimal(0))
        assert Decimal(clp[3]) - Decimal(clp[4]) == cas, clp


def claim_groups(segments: list[list[str]]) -> list[list[list[str]]]:
    """The segments of each CLP loop, up to the next CLP, PLB or SE."""
    groups: list[list[list[str]]] = []
    for s in segments:
        if s[0] == "CLP":
            groups.append([])
        elif s[0] in ("PLB", "SE"):
            break
        if groups:
            groups[-1].append(s)
    return groups


@pytest.mark.parametrize("style", ["standard", "newline", "control"])
def test_each_delimiter_style_passes_pyx12_as_written(style: str, tmp_path: Path) -> None:
    path, _ = write(a_busy_remittance(), style, tmp_path)
    assert_valid(path)


def test_a_wrapped_file_is_cut_at_80_columns_and_passes_pyx12_once_unwrapped(
    tmp_path: Path,
) -> None:
    _, wrapped = write(a_busy_remittance(), "wrapped", tmp_path)
    _, standard = write(a_busy_remittance(), "standard", tmp_path)
    lines = wrapped.decode("ascii").split("\n")
    assert all(len(line) == 80 for line in lines[:-2])
    assert len(lines[-2]) <= 80
    assert lines[-1] == ""
    assert not lines[0].endswith("~"), "the ISA itself is cut"
    assert wrapped.replace(b"\n", b"") == standard.replace(b"\n", b"")
    # pyx12 reads the ISA at fixed offsets, so it needs the line breaks removed first
    unwrapped = tmp_path / "835-unwrapped.edi"
    unwrapped.write_bytes(wrapped.replace(b"\n", b""))
    assert_valid(unwrapped)


def test_the_control_style_uses_non_printing_separators(tmp_path: Path) -> None:
    _, data = write(a_busy_remittance(), "control", tmp_path)
    assert data[3:4] == b"\x1f"  # element separator
    assert data[105:106] == b"\x1e"  # segment terminator
    assert not {ord(c) for c in "*~\n"} & set(data)


def test_every_style_carries_the_same_segments(tmp_path: Path) -> None:
    remit = a_busy_remittance()
    written = {
        s: write(remit, s, tmp_path)[1] for s in ("standard", "newline", "control", "wrapped")
    }
    parsed = {style: split_segments(data) for style, data in written.items()}
    assert parsed["newline"] == parsed["control"] == parsed["wrapped"] == parsed["standard"]


def test_the_isa_is_fixed_width_and_the_envelope_counts_match(tmp_path: Path) -> None:
    _, data = write(a_busy_remittance(), "standard", tmp_path)
    isa = data[:106].decode("ascii")
    assert isa.endswith("~")
    assert isa.split("*")[6] == "1234509876     "
    assert isa.split("*")[8] == "1234567893     "
    assert isa.split("*")[9:16] == ["260306", "0800", "^", "00501", "000000042", "0", "P"]
    segments = split_segments(data)
    ids = [s[0] for s in segments]
    st, se = ids.index("ST"), ids.index("SE")
    assert segments[se] == ["SE", str(se - st + 1), segments[st][2]]
    assert segments[-2:] == [["GE", "1", "42"], ["IEA", "1", "000000042"]]
    assert segments[1][1:2] + segments[1][6:] == ["HP", "42", "X", "005010X221A1"]


def test_the_file_balances_payment_claims_and_provider_adjustments(tmp_path: Path) -> None:
    remit = a_busy_remittance()
    _, data = write(remit, "standard", tmp_path)
    segments = split_segments(data)
    assert_balances(segments)
    bpr = next(s for s in segments if s[0] == "BPR")
    assert bpr[1:5] == ["I", "522.73", "C", "ACH"]
    assert bpr[-1] == "20260306"
    assert remit.paid_cents == 52273


def test_reversals_dir_copay_ingredient_cost_fees_recoveries_and_interest_validate(
    tmp_path: Path,
) -> None:
    path, data = write(a_busy_remittance(), "standard", tmp_path)
    assert_valid(path)
    text = data.decode("ascii")
    assert "CLP*2100120-00*22*-22.73*-15.46*-5.00*16*0102600002100120~" in text
    assert "SVC*N4:00093505601*-22.73*-15.46**30~" in text
    assert "CAS*PR*3*-5.00~\nCAS*CO*90*-2.27~" in text
    assert "CAS*PR*3*30.00~\nCAS*CO*90*10.00**295*1.18~" in text
    assert "SVC*N4:00093505601*12.99*10.50**2.5~" in text
    assert (
        "PLB*1234567893*20261231*CS:TXNFEE0306*0.54*WO:0102600002100033*4.67*L6:INT2603*-1.09~"
        in text
    )


def test_a_zero_payment_is_a_notification_only_bpr_that_validates(tmp_path: Path) -> None:
    paid = a_claim(2200397, charge=7044, paid=2926, copay=3000)
    taken_back = a_claim(2200397, charge=7044, paid=2926, copay=3000, reversal=True)
    path, data = write(a_remittance([paid, taken_back]), "standard", tmp_path)
    assert "BPR*H*0.00*C*NON************20260306~" in data.decode("ascii")
    assert_valid(path)


def test_more_than_six_provider_adjustments_make_two_plb_segments_that_validate(
    tmp_path: Path,
) -> None:
    fees = [ProviderAdjustment("CS", f"TXNFEE{day:02d}", 18) for day in range(1, 8)]
    remit = a_remittance([a_claim(2200397, charge=7044, paid=2926, copay=3000)], fees)
    path, data = write(remit, "standard", tmp_path)
    plb = [s for s in split_segments(data) if s[0] == "PLB"]
    assert [len(s[3::2]) for s in plb] == [6, 1]
    assert_balances(split_segments(data))
    assert_valid(path, map_path=maps_allowing_repeated_plb(tmp_path))
    # stock pyx12 objects to the second PLB and to nothing else
    errors = [line for line in x12valid(path).splitlines() if "ERROR Line" in line]
    assert all("Loop FOOTER exceeded max count" in line for line in errors), errors


def test_medicaid_claims_are_filed_as_mc(tmp_path: Path) -> None:
    _, data = write(a_busy_remittance(), "newline", tmp_path, plan_type="medicaid")
    assert {s[6] for s in split_segments(data) if s[0] == "CLP"} == {"MC"}


def test_names_are_written_in_the_x12_character_set(tmp_path: Path) -> None:
    _, data = write(a_busy_remittance(), "standard", tmp_path)
    assert "N1*PE*ELM STREET PHARMACY - DOWNTOWN*XX*1234567893~" in data.decode("ascii")
    assert "REF*D3*4499001~" in data.decode("ascii")


def test_the_same_remittance_gives_identical_bytes(tmp_path: Path) -> None:
    for style in ("standard", "newline", "control", "wrapped"):
        first = write(a_busy_remittance(), style, tmp_path)[1]
        assert write(a_busy_remittance(), style, tmp_path)[1] == first


def test_pyx12_reports_a_wrong_se_count_as_a_failure(tmp_path: Path) -> None:
    _, data = write(a_busy_remittance(), "standard", tmp_path)
    se = next(s for s in split_segments(data) if s[0] == "SE")
    broken = tmp_path / "wrong-se.edi"
    broken.write_bytes(data.replace(f"SE*{se[1]}*".encode(), f"SE*{int(se[1]) - 1}*".encode()))
    assert f"{broken}: Failure" in x12valid(broken)


def test_the_writer_refuses_a_claim_whose_adjustments_do_not_explain_the_shortfall(
    tmp_path: Path,
) -> None:
    claim = dataclasses.replace(
        a_claim(2200397, charge=7044, paid=2926, copay=3000), paid_cents=3000
    )
    with pytest.raises(ValueError, match="2200397-00"):
        write(a_remittance([claim]), "standard", tmp_path)


def test_the_writer_refuses_a_patient_responsibility_that_is_not_the_pr_adjustments(
    tmp_path: Path,
) -> None:
    claim = dataclasses.replace(
        a_claim(2200397, charge=7044, paid=2926, copay=3000), patient_resp_cents=0
    )
    with pytest.raises(ValueError, match="patient responsibility"):
        write(a_remittance([claim]), "standard", tmp_path)


def test_several_stores_share_one_interchange_with_a_transaction_each(tmp_path: Path) -> None:
    northgate = dataclasses.replace(LOCATION, ncpdp="4499002", npi="1245319599", name="Northgate")
    second = dataclasses.replace(a_busy_remittance(), location=northgate.ncpdp)
    data = remittances_to_x12(
        [a_busy_remittance(), second],
        payer=a_payer(),
        locations={LOCATION.ncpdp: LOCATION, northgate.ncpdp: northgate},
        interchange_control=7,
        delimiters="control",
    )
    path = tmp_path / "835-chain.edi"
    path.write_bytes(data)
    segments = split_segments(data)
    assert [s[2] for s in segments if s[0] == "ST"] == ["0001", "0002"]
    assert [s[4] for s in segments if s[0] == "N1" and s[1] == "PE"] == [
        LOCATION.npi,
        northgate.npi,
    ]
    assert segments[-2] == ["GE", "2", "7"]
    assert_valid(path)


def test_the_writer_refuses_a_negative_payment(tmp_path: Path) -> None:
    taken_back = a_claim(2200397, charge=7044, paid=2926, copay=3000, reversal=True)
    with pytest.raises(ValueError, match="PLB FB"):
        write(a_remittance([taken_back]), "standard", tmp_path)
