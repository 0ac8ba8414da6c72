"""Clinical billing, the pure part: which CPT/HCPCS lines a service produces, at what charge.

MTM (DOMAIN.md section 2.4): 99605 (new patient) or 99606 (established) covers the first 15
minutes; +99607 is added for each further 15 minutes or part of them, so 16-30 minutes is
99605 + 99607 x1, 31-45 is x2. Immunization administration: 90471 for the first injected
vaccine of a visit, 90472 for each more. Point-of-care tests carry the CLIA-waived QW modifier.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

FEES_FILE = Path(__file__).parent / "codes" / "fees.json"
FIRST_MTM_MINUTES = 15
ADDITIONAL_MTM_MINUTES = 15
POC_CODES = {"a1c": "83036-QW", "strep": "87880-QW", "flu": "87804-QW", "covid": "87811-QW"}


@dataclass(frozen=True)
class Line:
    code: str
    units: int
    cents: int  # the charge for all units
    description: str

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "units": self.units,
            "cents": self.cents,
            "description": self.description,
        }


@dataclass(frozen=True)
class FeeSchedule:
    codes: dict[str, tuple[str, int]]  # code -> (description, cents per unit)

    def line(self, code: str, units: int = 1) -> Line:
        description, cents = self.codes[code]
        return Line(code=code, units=units, cents=cents * units, description=description)


@cache
def fee_schedule(path: str | None = None) -> FeeSchedule:
    data = json.loads(Path(path or FEES_FILE).read_text())
    return FeeSchedule(
        codes={code: (v["description"], int(v["cents"])) for code, v in data["codes"].items()}
    )


def mtm_units(minutes: int) -> int:
    """Additional 15-minute units (+99607) after the first 15 minutes; part of one counts."""
    if minutes <= FIRST_MTM_MINUTES:
        return 0
    return -(-(minutes - FIRST_MTM_MINUTES) // ADDITIONAL_MTM_MINUTES)


def mtm_lines(*, minutes: int, new_patient: bool, fees: FeeSchedule) -> list[Line]:
    if minutes <= 0:
        raise ValueError("An MTM encounter with no minutes bills nothing.")
    lines = [fees.line("99605" if new_patient else "99606")]
    extra = mtm_units(minutes)
    if extra:
        lines.append(fees.line("99607", extra))
    return lines


def immunization_lines(*, first_of_visit: bool, fees: FeeSchedule) -> list[Line]:
    return [fees.line("90471" if first_of_visit else "90472")]


def poc_lines(*, kind: str, fees: FeeSchedule) -> list[Line]:
    # a rapid flu test reports influenza A and B: two units of 87804
    return [fees.line(POC_CODES[kind], 2 if kind == "flu" else 1)]


def total_cents(lines: list[Line]) -> int:
    return sum(line.cents for line in lines)
