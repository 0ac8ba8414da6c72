"""Spreadsheet-safe cells: every CSV/XLSX export of the product writes its cells through here."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_MONEY = re.compile(r"^-?\d+\.\d{2}$")


def neutralize(value: Any) -> Any:
    """Text a spreadsheet would run as a formula gets a leading quote (a plain negative
    number is not a formula and stays as it is)."""
    if (
        isinstance(value, str)
        and value[:1] in ("=", "+", "-", "@", "\t", "\r")
        and not _NUMBER.match(value)
    ):
        return "'" + value
    return value


def xlsx_cell(value: Any) -> Any:
    """A CSV cell for a worksheet: money ('-12.34') as an exact number the accountant can
    sum, everything else neutralized text."""
    if isinstance(value, str) and _MONEY.match(value):
        return Decimal(value)
    return neutralize(value)
