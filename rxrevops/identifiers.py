"""Pharmacy identifiers, normalized and checked at the edge (pure functions)."""

from __future__ import annotations

from django.core.exceptions import ValidationError


def npi_is_valid(npi: str) -> bool:
    """NPI check digit: Luhn over the 9-digit base prefixed with the 80840 card issuer id."""
    if len(npi) != 10 or not npi.isdigit():
        return False
    digits = [int(c) for c in "80840" + npi[:9]]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:  # rightmost base digit is doubled (the check digit is not in `digits`)
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10 == int(npi[9])


def validate_npi(value: str) -> None:
    if not npi_is_valid(value):
        raise ValidationError(f"{value!r} is not a valid NPI (10 digits with a Luhn check digit).")
