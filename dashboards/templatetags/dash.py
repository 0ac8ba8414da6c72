"""Display of dashboard figures: rates as percentages and period-over-period changes."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django import template

from rxrevops.templatetags.money import cents

register = template.Library()


@register.filter
def percent(value: Decimal | str | None) -> str:
    """A fraction as a percentage to one place: Decimal('0.1234') -> 12.3%."""
    if value is None or value == "":
        return "—"
    return f"{(Decimal(value) * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"


@register.filter
def change(tile: Any) -> str:
    """A tile's change against the earlier period: +4.2% (money, counts), +1.3 pts (rates)."""
    delta = tile.change
    if delta is None:
        return "no earlier figure" if tile.previous in (None, 0) else "—"
    if tile.kind == "rate":
        points = Decimal(delta).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        return f"{points:+} pts"
    pct = (Decimal(delta) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{pct:+}%"


@register.filter
def figure(value: Any, kind: str) -> str:
    """A tile's value by its kind: cents | rate | count."""
    if value is None:
        return "—"
    if kind == "cents":
        return cents(int(value))
    if kind == "rate":
        return percent(value)
    return f"{int(value):,}"
