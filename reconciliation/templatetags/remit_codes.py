"""Spell out remittance codes on pages: {{ adj.reason|carc }}, {{ plb.reason|plb_reason }}.
One filter per code table; an unknown code reads "unknown code X"."""

from __future__ import annotations

from collections.abc import Callable

from django import template

from reconciliation import codes

register = template.Library()

# filter name -> code table (reconciliation/codes/<table>.json)
FILTERS = {
    "carc": "carc",
    "rarc": "rarc",
    "group_code": "group",
    "plb_reason": "plb_reason",
    "claim_status": "claim_status",
    "payment_method": "payment_method",
    "handling": "transaction_handling",
}


def _spelled(table: str) -> Callable[[str], str]:
    def spell(code: str) -> str:
        return codes.describe(table, code) or f"unknown code {code}"

    return spell


for _name, _table in FILTERS.items():
    register.filter(_name, _spelled(_table))
