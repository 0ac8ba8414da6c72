"""Rollup rows written straight into the tables (derived data, as a refresh would write
them), for dashboard tests that need figures without a reconciled world."""

from __future__ import annotations

from datetime import date
from typing import Any

from dashboards.models import MarginDaily, MarginStoreDaily

DAY = date(2026, 3, 10)


def rollup(location: Any, *, claims: int, net: int, day: date = DAY) -> None:
    """One rollup row and its per store, day and plan sum (derived data, written as a
    refresh would)."""
    figures = dict.fromkeys(
        [f.name for f in MarginDaily._meta.fields if f.name.endswith("_cents")], 0
    )
    figures.update(net_margin_cents=net)
    MarginDaily.objects.create(
        organization=location.organization, location=location, day=day, plan=None,
        drug_class="", brand=False, contract_type="", claims=claims, generic_claims=claims,
        below_cost_claims=0, **figures,
    )  # fmt: skip
    MarginStoreDaily.objects.create(
        organization=location.organization, location=location, day=day, plan=None,
        claims=claims, generic_claims=claims, below_cost_claims=0, **figures,
    )  # fmt: skip
