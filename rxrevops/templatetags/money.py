from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def cents(value: int | None) -> str:
    """Integer cents as dollars, exactly: 123456 -> $1,234.56, -1234 -> -$12.34."""
    if value is None:
        return ""
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value) // 100:,}.{abs(value) % 100:02d}"
