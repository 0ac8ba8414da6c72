"""Synthetic HL7 v2 messages for the inbound tests (made-up people, stores and numbers)."""

from __future__ import annotations


def _join(*segments: str) -> str:
    return "\r".join(segments) + "\r"


def vxu(
    *,
    facility: str = "5500001",
    control_id: str = "VXU-1",
    patient_id: str = "P100",
    lot: str = "L123",
    cvx: str = "150",
    mvx: str = "SKB",
    expiration: str = "20270601",
    given: str = "20261001",
    extra_dose: str = "",
) -> str:
    dose = [
        "ORC|RE||42^PMS",
        f"RXA|0|1|{given}|{given}|{cvx}^Influenza^CVX|0.5|mL^mL^UCUM||00^New immunization "
        f"record^NIP001|1598000011^Smith^Ann^^^^^^NPI^^^^NPI|^^^{facility}||||{lot}|"
        f"{expiration}|{mvx}^GlaxoSmithKline^MVX|||CP|A",
        "RXR|C28161^Intramuscular^NCIT|LD^Left Deltoid^HL70163",
        "OBX|1|CE|64994-7^Vaccine funding program eligibility category^LN|1|V01^Not VFC "
        f"eligible^HL70064||||||F|||{given}|||VXC40^Eligibility captured at the immunization "
        "level^CDCPHINVS",
        "OBX|2|TS|29768-9^Date vaccine information statement published^LN|2|20230806||||||F"
        f"|||{given}",
        f"OBX|3|TS|29769-7^Date vaccine information statement presented^LN|2|{given}||||||F"
        f"|||{given}",
    ]
    return _join(
        f"MSH|^~\\&|TestPMS|{facility}|RxRevOps|RXREVOPS|20261001120000-0500||VXU^V04^VXU_V04|"
        f"{control_id}|P|2.5.1|||ER|AL|||||Z22^CDCPHINVS",
        f"PID|1||{patient_id}^^^MAPLE^MR||Testperson^Synthia^^^^^L||19600201|F|||"
        "1 Test St^^Springfield^IL^62701||^PRN^PH^^^217^5550100",
        *dose,
        *([extra_dose] if extra_dose else []),
    )


def rds(
    *,
    facility: str = "5500001",
    control_id: str = "RDS-1",
    patient_id: str = "P100",
    rx: str = "1000123",
    counter: str = "1",
    ndc: str = "00093-7267-01",
    quantity: str = "60",
    days: str = "30",
    zcl: str | None = "ZCL|B1|610014|MEDDPRIME|GRP1|CH123|Plan A|25.00|10.00|1.50|3.50|8.00|07|"
    "AUTH1|2.00",
) -> str:
    return _join(
        f"MSH|^~\\&|TestPMS|{facility}|RxRevOps|RXREVOPS|20261001120000||RDS^O13^RDS_O13|"
        f"{control_id}|P|2.5.1",
        f"PID|1||{patient_id}^^^MAPLE^MR||Testperson^Synthia||19600201|F|||"
        "1 Test St^^Springfield^IL^62701",
        f"ORC|RE|{rx}||||||||||1234567893^Welby^Marcus",
        f"TQ1|1|||||{days}^d",
        f"RXD|{counter}|{ndc}^Metformin 500 mg tablet^NDC|20261001|{quantity}|||{rx}||||0",
        "RXR|PO^Oral^HL70162",
        *([zcl] if zcl else []),
    )


def adt(
    *,
    facility: str = "5500001",
    control_id: str = "ADT-1",
    patient_id: str = "P100",
    last: str = "Testperson",
    first: str = "Synthia",
    dob: str = "19600201",
    phone: str = "2175550100",
) -> str:
    return _join(
        f"MSH|^~\\&|TestPMS|{facility}|RxRevOps|RXREVOPS|20261001120000||ADT^A08^ADT_A01|"
        f"{control_id}|P|2.5.1",
        "EVN|A08|20261001120000",
        f"PID|1||{patient_id}^^^MAPLE^MR||{last}^{first}||{dob}|F|||"
        f"1 Test St^^Springfield^IL^62704||{phone}",
        "PV1|1|N",
    )


def fields(message: str, name: str, occurrence: int = 1) -> list[str]:
    """An independent reader for the tests: the n-th `name` segment's fields, numbered as HL7
    numbers them (MSH-1 is the field separator)."""
    found = [s for s in message.replace("\n", "\r").split("\r") if s.startswith(name + "|")]
    parts = found[occurrence - 1].split("|")
    return [parts[0], "|", *parts[1:]] if name == "MSH" else parts


def field(message: str, name: str, n: int, occurrence: int = 1) -> str:
    parts = fields(message, name, occurrence)
    return parts[n] if n < len(parts) else ""
