from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import template

register = template.Library()


@register.filter
def pairs(value: Mapping[str, Any] | None) -> list[tuple[str, Any]]:
    """A mapping's (key, value) pairs. `mapping.items` in a template looks the key "items"
    up first: a job's counts may hold one (a worklist build counts its items)."""
    return list(value.items()) if value else []
