from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def cents(value: int | str | None) -> str:
    """Integer cents as dollars, exactly: 123456 -> $1,234.56, -1234 -> -$12.34. Nothing
    (None, or "" from a missing lookup in a template) is shown as nothing."""
    if value is None or value == "":
        return ""
    value = int(value)
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value) // 100:,}.{abs(value) % 100:02d}"
