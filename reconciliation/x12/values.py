"""Element values: exact money, quantities and dates, parsed from the text, never via float.

Each parser returns None for a value it cannot read; the caller turns that into an Issue.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from functools import lru_cache

MAX_AMOUNT_CHARS = 18  # X12 R-type amounts are at most 18 characters (sign and point aside)
_QUANTITY = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


# Remits repeat amounts (copays, fees, prices of the same drug): a bounded memo pays for itself.
@lru_cache(maxsize=16384)
def parse_cents(text: str) -> int | None:
    """Dollars as integer cents: "12" -> 1200, "12.5" -> 1250, "-3.00" -> -300, ".5" -> 50.
    None for an empty value, garbage, or more than two decimals (that is not money)."""
    dot = text.find(".")
    if dot == -1:
        digits, scale = text, 100
    else:
        decimals = len(text) - dot - 1
        if decimals > 2:
            return None
        digits, scale = text[:dot] + text[dot + 1 :], _SCALE[decimals]
    body = digits[1:] if digits.startswith("-") else digits
    # isdigit alone would let "²" and other non-ASCII digits through to int()
    if not (body.isdigit() and body.isascii()) or len(digits) > MAX_AMOUNT_CHARS:
        return None
    return int(digits) * scale


_SCALE = (100, 10, 1)  # cents per unit of the last digit, by number of decimals


@lru_cache(maxsize=4096)
def parse_quantity(text: str) -> Decimal | None:
    """An X12 R-type number as an exact Decimal ("30", "2.5", "-4", ".75"); None otherwise."""
    if len(text) > MAX_AMOUNT_CHARS or not _QUANTITY.fullmatch(text):
        return None
    return Decimal(text)


@lru_cache(maxsize=8192)
def parse_date(text: str) -> date | None:
    """A CCYYMMDD date that exists on the calendar; None otherwise (20002316 is not a date)."""
    if len(text) != 8 or not (text.isascii() and text.isdigit()):
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def is_number(text: str) -> bool:
    """An X12 N0 numeric code: ASCII digits only."""
    return text.isascii() and text.isdigit()


def dollars(cents: int | None) -> str:
    """Cents for a message: 12345 -> "$123.45", -50 -> "-$0.50"."""
    if cents is None:
        return "(unreadable)"
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) // 100:,}.{abs(cents) % 100:02d}"
