"""X12 835 code tables, spelled out for people reading a remittance.

Pure core: no Django, no I/O beyond reading the JSON files that sit next to this module, each
once, on first use. Where every table came from is in SOURCES.md.

    >>> carc("295")
    'Pharmacy Direct/Indirect Remuneration (DIR)'
    >>> describe("group", "PR")
    'Patient Responsibility'
    >>> rarc("NOPE") is None
    True

An unknown code gives None, never an exception: payers send codes newer than our copy, and the
page should then show the code itself with "unknown code". An unknown *table* is a programming
error and raises ValueError.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

TABLES: Final[tuple[str, ...]] = (
    "carc",  # CAS02/05/..: Claim Adjustment Reason Codes (X12 external code source 139)
    "rarc",  # LQ*HE, MIA/MOA remarks: Remittance Advice Remark Codes (code source 411)
    "group",  # CAS01: claim adjustment group code (element 1033)
    "plb_reason",  # PLB03-1, PLB05-1 ..: provider adjustment reason code (element 426)
    "claim_status",  # CLP02 (element 1029)
    "claim_filing",  # CLP06: claim filing indicator code (element 1032)
    "transaction_handling",  # BPR01 (element 305)
    "payment_method",  # BPR04 (element 591)
)

_HERE = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class CodeTable:
    """One code list as shipped: code -> description, plus where it came from."""

    name: str
    source: str
    retrieved: str
    codes: Mapping[str, str]
    deactivated: frozenset[str]


@cache
def code_table(name: str) -> CodeTable:
    """The named table, read from ``<name>.json`` the first time it is asked for."""
    if name not in TABLES:
        raise ValueError(f"unknown code table {name!r}; known tables: {', '.join(TABLES)}")
    raw = json.loads((_HERE / f"{name}.json").read_text(encoding="utf-8"))
    return CodeTable(
        name=name,
        source=str(raw["source"]),
        retrieved=str(raw["retrieved"]),
        codes={str(code): str(text) for code, text in raw["codes"].items()},
        deactivated=frozenset(str(code) for code in raw.get("deactivated", ())),
    )


def _key(code: str) -> str:
    # Codes are upper-case alphanumerics; hand-typed or padded input ("pr ", " n130") is not.
    return code.strip().upper()


def describe(table: str, code: str) -> str | None:
    """The description of ``code`` in ``table``, or None when the table has no such code."""
    return code_table(table).codes.get(_key(code))


def is_deactivated(table: str, code: str) -> bool:
    """True for a code X12 has retired: still meaningful on an old remit, not on a new one."""
    return _key(code) in code_table(table).deactivated


def carc(code: str) -> str | None:
    """Claim Adjustment Reason Code (CAS02, CAS05, ...), e.g. ``carc("45")``."""
    return describe("carc", code)


def rarc(code: str) -> str | None:
    """Remittance Advice Remark Code (LQ*HE, MIA/MOA remarks), e.g. ``rarc("N130")``."""
    return describe("rarc", code)


def group(code: str) -> str | None:
    """Claim adjustment group code (CAS01): CO, CR, OA, PI or PR."""
    return describe("group", code)


def plb_reason(code: str) -> str | None:
    """Provider-level adjustment reason (PLB03-1). Pass the code alone: ``"WO"``, not
    ``"WO:REF123"``; splitting the composite is the parser's job."""
    return describe("plb_reason", code)


def claim_status(code: str) -> str | None:
    """Claim status code (CLP02), e.g. ``claim_status("22")`` for a reversal."""
    return describe("claim_status", code)


__all__ = [
    "TABLES",
    "CodeTable",
    "carc",
    "claim_status",
    "code_table",
    "describe",
    "group",
    "is_deactivated",
    "plb_reason",
    "rarc",
]
