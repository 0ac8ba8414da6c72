"""The VXU^V04 builder and the dose checks: pure, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import hl7
import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from clinical.hl7.vxu import (
    DoseInfo,
    PatientInfo,
    Provider,
    Sender,
    VxuError,
    build_vxu,
    cvx_mvx_table,
    structure_errors,
    validate_dose,
)

SENDER = Sender(facility_id="1234567", facility_name="Maple A")
PATIENT = PatientInfo(
    id="P100",
    assigning_authority="MAPLE",
    last_name="O'Neil^Jr",  # a delimiter inside a value must be escaped, not split
    first_name="Ann",
    birth_date=date(1960, 2, 1),
    sex="F",
)
DOSE = DoseInfo(
    record_id="42",
    administered_on=date(2026, 10, 1),
    cvx="150",
    vaccine="Influenza, injectable, quadrivalent, preservative free",
    mvx="SKB",
    dose_ml=Decimal("0.50"),
    lot="L123",
    expiration=date(2027, 6, 1),
    route="IM",
    site="LD",
    funding_eligibility="V01",
    vis_edition_date=date(2023, 8, 6),
    vis_given_on=date(2026, 10, 1),
    administering=Provider("1598000011", "Smith", "Ann"),
)
SENT_AT = datetime(2026, 10, 1, 12, 0, tzinfo=timezone(timedelta(hours=-5)))


def er7(dose: DoseInfo = DOSE) -> str:
    return build_vxu(sender=SENDER, patient=PATIENT, dose=dose, control_id="C1", sent_at=SENT_AT)


def split(message: str) -> list[list[str]]:
    """An independent minimal ER7 reader: segments on CR, fields on '|' (MSH counts the
    field separator as MSH-1, so its fields are shifted by one)."""
    out = []
    for line in message.split("\r"):
        if not line:
            continue
        fields = line.split("|")
        out.append([*fields[:1], "|", *fields[1:]] if fields[0] == "MSH" else fields)
    return out


def segs(message: str, name: str) -> list[list[str]]:
    return [s for s in split(message) if s[0] == name]


def test_message_header_names_the_vxu_profile() -> None:
    (msh,) = segs(er7(), "MSH")
    assert msh[2] == "^~\\&"
    assert msh[3] == "RxRevOps"
    assert msh[4] == "1234567"
    assert msh[7] == "20261001120000-0500"
    assert msh[9] == "VXU^V04^VXU_V04"
    assert msh[10] == "C1"
    assert msh[11] == "P"
    assert msh[12] == "2.5.1"
    assert msh[15] == "ER"
    assert msh[16] == "AL"
    assert msh[21] == "Z22^CDCPHINVS"


def test_segments_come_in_the_order_the_ig_gives() -> None:
    names = [s[0] for s in split(er7())]
    assert names == ["MSH", "PID", "ORC", "RXA", "RXR", "OBX", "OBX", "OBX", "OBX"]


def test_patient_identifier_name_and_birth_date() -> None:
    (pid,) = segs(er7(), "PID")
    assert pid[3] == "P100^^^MAPLE^MR"
    assert pid[5] == "O'Neil\\S\\Jr^Ann^^^^^L"
    assert pid[7] == "19600201"
    assert pid[8] == "F"


def test_order_is_an_administered_record_with_our_id() -> None:
    (orc,) = segs(er7(), "ORC")
    assert orc[1] == "RE"
    assert orc[3] == "42^RxRevOps"


def test_rxa_carries_vaccine_dose_lot_and_manufacturer() -> None:
    (rxa,) = segs(er7(), "RXA")
    assert rxa[1:3] == ["0", "1"]
    assert rxa[3] == "20261001"
    assert rxa[5] == "150^Influenza, injectable, quadrivalent, preservative free^CVX"
    assert rxa[6] == "0.5"
    assert rxa[7] == "mL^mL^UCUM"
    assert rxa[9] == "00^New immunization record^NIP001"
    assert rxa[10].split("^")[:3] == ["1598000011", "Smith", "Ann"]
    assert rxa[11] == "^^^1234567"
    assert rxa[15] == "L123"
    assert rxa[16] == "20270601"
    assert rxa[17] == "SKB^GlaxoSmithKline^MVX"
    assert rxa[20] == "CP"
    assert rxa[21] == "A"


def test_route_is_sent_as_ncit_and_site_from_table_0163() -> None:
    (rxr,) = segs(er7(), "RXR")
    assert rxr[1] == "C28161^Intramuscular^NCIT"
    assert rxr[2] == "LD^Left Deltoid^HL70163"


def test_funding_and_vis_observations_are_grouped_by_sub_id() -> None:
    obx = segs(er7(), "OBX")
    rows = [(o[1], o[2], o[3].split("^")[0], o[4], o[5], o[11]) for o in obx]
    assert rows == [
        ("1", "CE", "64994-7", "1", "V01^Not VFC eligible^HL70064", "F"),
        (
            "2",
            "CE",
            "30956-7",
            "2",
            "150^Influenza, injectable, quadrivalent, preservative free^CVX",
            "F",
        ),
        ("3", "TS", "29768-9", "2", "20230806", "F"),
        ("4", "TS", "29769-7", "2", "20261001", "F"),
    ]
    assert obx[0][17].startswith("VXC40^")  # eligibility captured at the dose
    assert all(o[14] == "20261001" for o in obx)


def test_vis_by_barcode_uses_the_document_type_observation() -> None:
    dose = replace(DOSE, vis_document=("253088698300017111150806", "Influenza VIS"))
    obx = segs(er7(dose), "OBX")
    assert [o[3].split("^")[0] for o in obx] == ["64994-7", "69764-9", "29768-9", "29769-7"]
    assert obx[1][5] == "253088698300017111150806^Influenza VIS^cdcgs1vis"


def test_message_parses_back_and_passes_hl7apy_structure_validation() -> None:
    text = er7()
    msg = parse_message(text, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    assert msg.validate() is True
    assert structure_errors(msg) == []
    order = msg.vxu_v04_order
    assert order.rxa.rxa_5.rxa_5_1.value == "150"
    assert order.rxa.rxa_15.value == "L123"
    assert msg.pid.pid_5.xpn_1.to_er7() == "O'Neil\\S\\Jr"


def test_message_parses_back_with_the_independent_hl7_package() -> None:
    msg = hl7.parse(er7())
    assert [str(s[0]) for s in msg] == ["MSH", "PID", "ORC", "RXA", "RXR"] + ["OBX"] * 4
    assert str(msg.segment("MSH")[9]) == "VXU^V04^VXU_V04"
    assert str(msg.segment("MSH")[21]) == "Z22^CDCPHINVS"
    assert str(msg.segment("RXA")[5][0][0]) == "150"
    assert str(msg.segment("RXA")[15]) == "L123"
    assert str(msg.segment("RXA")[17][0][0]) == "SKB"
    assert str(msg.segment("RXR")[1][0][0]) == "C28161"


def test_missing_cvx_fails_naming_the_field() -> None:
    with pytest.raises(VxuError) as caught:
        er7(replace(DOSE, cvx=" "))
    assert caught.value.problems == ["RXA-5 vaccine (CVX) is missing"]
    assert "RXA-5 vaccine (CVX) is missing" in str(caught.value)


def test_every_missing_or_unknown_input_is_listed_at_once() -> None:
    with pytest.raises(VxuError) as caught:
        er7(replace(DOSE, lot="", site="XX", funding_eligibility="V9", vis_given_on=None))
    assert caught.value.problems == [
        "RXA-15 lot is missing",
        "OBX 29769-7 VIS presentation date is missing",
        "RXR-2 site 'XX' is not in HL7 table 0163",
        "OBX 64994-7 funding eligibility 'V9' is not in HL7 table 0064",
    ]


def test_structure_validation_lists_what_hl7apy_finds() -> None:
    from hl7apy.core import Message

    msg = Message("VXU_V04", version="2.5.1", validation_level=VALIDATION_LEVEL.STRICT)
    msg.add_group("VXU_V04_ORDER").orc.orc_1 = "RE"
    errors = structure_errors(msg)
    assert "Missing required child VXU_V04_ORDER.RXA" in errors
    assert any("PID" in e for e in errors)


# --- validate_dose --------------------------------------------------------------------------


def test_expired_lot_is_refused_with_the_reason() -> None:
    problems = validate_dose(
        cvx="150", mvx="SKB", administered_on=date(2026, 10, 1), expiration=date(2026, 9, 30)
    )
    assert [p.field for p in problems] == ["expiration"]
    assert "expired on 2026-09-30" in problems[0].reason
    assert "2026-10-01" in problems[0].reason


def test_a_lot_is_good_through_its_expiration_date() -> None:
    day = date(2026, 10, 1)
    assert validate_dose(cvx="150", mvx="SKB", administered_on=day, expiration=day) == []


def test_cvx_mvx_mismatch_is_refused_with_the_reason() -> None:
    problems = validate_dose(
        cvx="187", mvx="MSD", administered_on=date(2026, 10, 1), expiration=date(2027, 1, 1)
    )
    assert [p.field for p in problems] == ["mvx"]
    assert "MVX MSD makes no CVX 187" in problems[0].reason
    assert "SKB" in problems[0].reason


def test_unknown_cvx_is_refused_and_leading_zeros_do_not_matter() -> None:
    day, exp = date(2026, 10, 1), date(2027, 1, 1)
    (unknown,) = validate_dose(cvx="999", mvx="SKB", administered_on=day, expiration=exp)
    assert unknown.field == "cvx"
    assert "not in the CVX/MVX table" in unknown.reason
    assert validate_dose(cvx="0115", mvx="SKB", administered_on=day, expiration=exp) == []


def test_the_table_covers_every_vaccine_of_the_synthetic_world() -> None:
    from demo.world.catalog import VACCINES

    table = cvx_mvx_table()
    for cvx, mvx, *_ in VACCINES:
        assert mvx in table.makers[cvx], (cvx, mvx)
