"""Money is exact integer cents parsed from the text; quantities are Decimal; dates are real."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciliation.x12.values import dollars, parse_cents, parse_date, parse_quantity


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("12", 1200),
        ("12.5", 1250),
        ("-3.00", -300),
        (".5", 50),
        ("-.05", -5),
        ("0", 0),
        ("12.", 1200),
        ("0.01", 1),
        ("150000.00", 15_000_000),
        ("", None),
        (".", None),
        ("-", None),
        ("1.234", None),
        ("12.345", None),
        ("1.2.3", None),
        ("abc", None),
        ("1e5", None),
        ("+5", None),
        (" 5", None),
        ("5 ", None),
        ("1_000", None),
        ("--5", None),
        ("\u00b2", None),
        ("\u0661\u0662", None),
        ("9" * 19, None),
    ],
)
def test_amounts_parse_exactly_or_not_at_all(text: str, cents: int | None) -> None:
    assert parse_cents(text) == cents


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_amounts_round_trip_through_their_x12_text(cents: int) -> None:
    sign = "-" if cents < 0 else ""
    assert parse_cents(f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}") == cents


@given(st.text(max_size=25))
def test_any_text_is_an_amount_or_none_never_an_exception(text: str) -> None:
    cents = parse_cents(text)
    if cents is not None:
        assert Decimal(text) * 100 == cents


@pytest.mark.parametrize(
    ("text", "quantity"),
    [("30", Decimal(30)), ("2.5", Decimal("2.5")), ("-4", Decimal(-4)), (".75", Decimal(".75"))],
)
def test_quantities_are_decimal(text: str, quantity: Decimal) -> None:
    assert parse_quantity(text) == quantity


@pytest.mark.parametrize("text", ["", "NaN", "Infinity", "1e3", "1,5", " 1", "x"])
def test_garbage_quantities_are_none(text: str) -> None:
    assert parse_quantity(text) is None


def test_dates_must_exist() -> None:
    assert parse_date("20240229") == date(2024, 2, 29)
    assert parse_date("20230229") is None
    assert parse_date("20002316") is None
    assert parse_date("2024021") is None
    assert parse_date("2024-02-") is None


def test_dollars_for_messages() -> None:
    assert (dollars(123456), dollars(-50), dollars(None)) == ("$1,234.56", "-$0.50", "(unreadable)")
