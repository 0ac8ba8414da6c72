"""GET /api/v1/metrics/margin/: who sees which store's numbers, and what a bad query gets."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from dashboards.selectors import GROUP_BYS, per_script, rate
from rxrevops.models import Role
from rxrevops.services.tokens import api_token_create
from tests.factories import member
from tests.support.problems import errors_by_field

URL = "/api/v1/metrics/margin/"
WHOLE = "from=2026-01-01&to=2026-04-30"


def _get(client: Any, query: str) -> Any:
    return client.get(f"{URL}?{query}")


def test_a_store_user_sees_only_its_store_and_gets_404_for_another(
    margin_world: SimpleNamespace, api_login: Any
) -> None:
    loc_a, loc_b = margin_world.locations[0], margin_world.locations[1]
    user_a = member(organization=margin_world.org, role=Role.REVENUE, locations=[loc_a])
    client = api_login(user_a)
    owner = api_login(margin_world.owner)

    by_store = _get(client, f"group_by=location&{WHOLE}").json()
    assert [r["key"] for r in by_store["results"]] == [str(loc_a.pk)]
    chain = _get(owner, f"group_by=location&{WHOLE}").json()
    assert {r["key"] for r in chain["results"]} == {str(loc.pk) for loc in margin_world.locations}
    assert by_store["results"][0] == next(r for r in chain["results"] if r["key"] == str(loc_a.pk))
    for group_by in GROUP_BYS:  # every grouping adds up to the store's figures only
        mine = _get(client, f"group_by={group_by}&{WHOLE}").json()
        theirs = _get(owner, f"group_by={group_by}&{WHOLE}&location={loc_a.pk}").json()
        assert mine == theirs, group_by
    assert by_store["totals"]["claims"] < chain["totals"]["claims"]

    assert _get(client, f"group_by=payer&{WHOLE}&location={loc_b.pk}").status_code == 404
    assert _get(client, f"group_by=payer&{WHOLE}&location={loc_a.pk}").status_code == 200


def test_a_token_for_one_store_reads_that_store_and_needs_metrics_read(
    margin_world: SimpleNamespace, api_login: Any
) -> None:
    loc_a, loc_b = margin_world.locations[0], margin_world.locations[1]
    token = api_token_create(
        organization=margin_world.org, name="BI", scopes=["metrics:read"], locations=[loc_a]
    ).key
    client = api_login(token=token)
    body = _get(client, f"group_by=location&{WHOLE}").json()
    assert [r["key"] for r in body["results"]] == [str(loc_a.pk)]
    assert _get(client, f"group_by=day&{WHOLE}&location={loc_b.pk}").status_code == 404

    remits_only = api_token_create(organization=margin_world.org, name="R", scopes=["remits:read"])
    assert _get(api_login(token=remits_only.key), f"group_by=day&{WHOLE}").status_code == 403
    # a technician works call lists, not the chain's money
    assert _get(api_login(margin_world.technician_0), f"group_by=day&{WHOLE}").status_code == 403


def test_another_organizations_owner_sees_nothing_of_this_chain(
    margin_world: SimpleNamespace, other_chain: SimpleNamespace, api_login: Any
) -> None:
    client = api_login(other_chain.owner)
    body = _get(client, f"group_by=location&{WHOLE}").json()
    assert body["results"] == []
    assert body["totals"]["claims"] == 0
    assert body["totals"]["net_margin_per_script_cents"] is None
    loc = margin_world.locations[0]
    assert _get(client, f"group_by=location&{WHOLE}&location={loc.pk}").status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-01-01&to=2026-01-31", "group_by"),
        ("group_by=week&from=2026-01-01&to=2026-01-31", "group_by"),
        ("group_by=day&to=2026-01-31", "from"),
        ("group_by=day&from=2026-02-30&to=2026-03-31", "from"),
        ("group_by=day&from=01/02/2026&to=2026-03-31", "from"),
        ("group_by=day&from=2026-01-01", "to"),
        ("group_by=day&from=2026-03-01&to=2026-02-01", "to"),
        ("group_by=day&from=2026-01-01&to=2026-01-31&location=main", "location"),
        ("group_by=day&from=2026-01-01&to=2026-01-31&payer=0", "payer"),
    ],
)
def test_a_bad_query_is_a_400_naming_the_field(
    chain: SimpleNamespace, api_login: Any, query: str, field: str
) -> None:
    response = _get(api_login(chain.owner), query)
    assert response.status_code == 400
    assert list(errors_by_field(response)) == [field]


def test_an_unknown_payer_or_a_foreign_store_is_a_404_and_no_caller_a_401(
    chain: SimpleNamespace, other_chain: SimpleNamespace, api_login: Any
) -> None:
    client = api_login(chain.owner)
    assert _get(client, f"group_by=day&{WHOLE}&payer=987654").status_code == 404
    assert _get(client, f"group_by=day&{WHOLE}&location={other_chain.loc.pk}").status_code == 404
    assert _get(client, f"group_by=day&{WHOLE}&location={chain.loc_a.pk}").status_code == 200
    assert _get(api_login(), f"group_by=day&{WHOLE}").status_code == 401


def test_per_script_figures_round_half_away_from_zero_and_rates_half_up() -> None:
    assert per_script(5, 2) == 3
    assert per_script(-5, 2) == -3
    assert per_script(1, 3) == 0
    assert per_script(-2, 3) == -1
    assert per_script(100, 0) is None
    assert rate(1, 3) == Decimal("0.3333")
    assert rate(2, 3) == Decimal("0.6667")
    assert rate(1, 0) is None


def test_an_empty_range_has_no_rows_and_zero_totals(chain: SimpleNamespace, api_login: Any) -> None:
    body = _get(api_login(chain.owner), "group_by=month&from=2026-01-01&to=2026-01-31").json()
    assert body["group_by"] == "month"
    assert (body["from"], body["to"]) == (str(date(2026, 1, 1)), str(date(2026, 1, 31)))
    assert body["results"] == []
    assert body["totals"]["revenue_cents"] == 0
    assert body["totals"]["below_cost_rate"] is None
