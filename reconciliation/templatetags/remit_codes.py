"""Spell out remittance codes on pages: {{ adj.reason|carc }}, {{ plb.reason|plb_reason }}."""

from __future__ import annotations

from django import template

from reconciliation import codes

register = template.Library()


def _spelled(table: str, code: str) -> str:
    return codes.describe(table, code) or f"unknown code {code}"


@register.filter
def carc(code: str) -> str:
    return _spelled("carc", code)


@register.filter
def rarc(code: str) -> str:
    return _spelled("rarc", code)


@register.filter
def group_code(code: str) -> str:
    return _spelled("group", code)


@register.filter
def plb_reason(code: str) -> str:
    return _spelled("plb_reason", code)


@register.filter
def claim_status(code: str) -> str:
    return _spelled("claim_status", code)


@register.filter
def payment_method(code: str) -> str:
    return _spelled("payment_method", code)


@register.filter
def handling(code: str) -> str:
    return _spelled("transaction_handling", code)
