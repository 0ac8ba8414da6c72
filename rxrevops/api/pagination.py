from __future__ import annotations

from typing import Any

from rest_framework.pagination import CursorPagination
from rest_framework.request import Request


class Cursor(CursorPagination):
    """Cursor pagination ordered by the view's `cursor_ordering` (default newest id first):
    stable under inserts, no page counts to compute on large tables."""

    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_ordering(self, request: Request, queryset: Any, view: Any) -> tuple[str, ...]:
        ordering = getattr(view, "cursor_ordering", "-pk")
        return (ordering,) if isinstance(ordering, str) else tuple(ordering)
