"""The owner dashboards' pages over the reconciled four-month world: every tile of the
overview equals plain SQL over the raw rows (not the rollups), every figure's drill page
lists claims that add up to it, and a store's user reaches only that store."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.utils.html import escape

from claims.models import Plan
from dashboards.overview import overview_for_user
from dashboards.periods import Period
from dashboards.selectors import per_script, rate
from rxrevops.models import Role
from rxrevops.templatetags.money import cents
from tests.dashboards.test_margin_trust import recomputed
from tests.factories import member

pytestmark = pytest.mark.django_db

MARCH = "period=custom&since=2026-03-01&until=2026-03-31"
# the figures `recomputed` returns, in its order
NAMES = (
    "claims", "generic", "revenue", "plan_paid", "acquisition", "fees_actual",
    "fees_estimated", "dir", "net_margin", "below_claims", "below_cents", "remitted",
    "owed_0_30", "owed_31_60", "owed_61_90", "owed_90_plus",
)  # fmt: skip


def sql_totals(world: SimpleNamespace, start: date, end: date) -> dict[str, int]:
    """The whole chain's figures from plain SQL over the raw rows, summed over the stores."""
    per_store = recomputed(world, "location", start, end)
    columns = zip(*per_store.values(), strict=True)
    return dict(zip(NAMES, (sum(c) for c in columns), strict=True))


def expected_tiles(t: dict[str, int]) -> dict[str, str]:
    """What each margin tile must show, from the plain-SQL figures."""
    fees = t["fees_actual"] + t["fees_estimated"] + t["dir"]
    owed = t["owed_0_30"] + t["owed_31_60"] + t["owed_61_90"] + t["owed_90_plus"]

    def pct(r: Decimal | None) -> str:
        assert r is not None
        return f"{(r * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"

    return {
        "net_margin": cents(t["net_margin"]),
        "net_margin_per_script": cents(per_script(t["net_margin"], t["claims"])),
        "revenue": cents(t["revenue"]),
        "scripts": f"{t['claims']:,}",
        "fees_per_script": cents(per_script(fees, t["claims"])),
        "below_cost_rate": pct(rate(t["below_claims"], t["claims"])),
        "gdr": pct(rate(t["generic"], t["claims"])),
        "unreconciled": cents(owed),
    }


def tile_values(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-testid="tile-([a-z_]+)-value">([^<]*)<', html))


def test_every_overview_tile_equals_plain_sql_over_the_raw_rows(
    margin_world: SimpleNamespace, login: Any
) -> None:
    client = login(margin_world.owner)
    whole = "period=custom&since=2026-01-01&until=2026-04-30"
    for query, start, end in (
        (whole, date(2026, 1, 1), date(2026, 4, 30)),
        (MARCH, date(2026, 3, 1), date(2026, 3, 31)),
    ):
        html = client.get(f"/dashboards/?{query}").content.decode()
        shown = tile_values(html)
        t = sql_totals(margin_world, start, end)
        assert t["claims"], "an empty world proves nothing"
        assert t["below_claims"]
        assert t["net_margin"]
        for key, value in expected_tiles(t).items():
            assert shown[key] == escape(value), (query, key)
        for bucket, name in (
            ("0-30", "owed_0_30"),
            ("31-60", "owed_31_60"),
            ("90+", "owed_90_plus"),
        ):
            shown_age = re.search(
                rf'data-testid="age-{re.escape(bucket)}">.*?<strong>([^<]*)<', html
            )
            assert shown_age, bucket
            assert shown_age.group(1) == cents(t[name]), (query, bucket)

    # the comparison period: March against the 31 days before it
    ov = overview_for_user(
        margin_world.owner, period=Period("custom", date(2026, 3, 1), date(2026, 3, 31))
    )
    assert (ov.previous.start, ov.previous.end) == (date(2026, 1, 29), date(2026, 2, 28))
    before = sql_totals(margin_world, date(2026, 1, 29), date(2026, 2, 28))
    previous = {tile.key: tile.previous for tile in ov.tiles}
    assert previous["net_margin"] == before["net_margin"]
    assert previous["revenue"] == before["revenue"]
    assert previous["scripts"] == before["claims"]
    assert previous["below_cost_rate"] == rate(before["below_claims"], before["claims"])


def _drill_total(client: Any, url: str) -> tuple[str, int]:
    html = client.get(url).content.decode()
    total = re.search(r'data-testid="figure-total">([^<]*)<', html)
    count = re.search(r'data-testid="figure-claims">(\d+)<', html)
    assert total, url
    assert count, url
    return total.group(1), int(count.group(1))


def test_each_tile_leads_to_claims_that_add_up_to_it(
    margin_world: SimpleNamespace, login: Any
) -> None:
    client = login(margin_world.owner)
    html = client.get(f"/dashboards/?{MARCH}").content.decode()
    by_tile = {
        tile: href.replace("&amp;", "&")
        for href, tile in re.findall(r'href="([^"]+)" data-testid="tile-([a-z_]+)"', html)
    }
    t = sql_totals(margin_world, date(2026, 3, 1), date(2026, 3, 31))
    total, _ = _drill_total(client, by_tile["net_margin"])
    assert total == cents(t["net_margin"])
    total, n = _drill_total(client, by_tile["revenue"])
    assert (total, n) == (cents(t["revenue"]), t["claims"])
    total, n = _drill_total(client, by_tile["below_cost_rate"])
    assert (total, n) == (cents(t["below_cents"]), t["below_claims"])
    total, _ = _drill_total(client, by_tile["fees_per_script"])
    assert total == cents(t["fees_actual"] + t["fees_estimated"] + t["dir"])
    _, n = _drill_total(client, by_tile["gdr"])
    assert n == t["generic"]
    total, _ = _drill_total(client, by_tile["unreconciled"])
    owed = t["owed_0_30"] + t["owed_31_60"] + t["owed_61_90"] + t["owed_90_plus"]
    assert total == cents(owed)
    # and the formula is stated on the drill page
    page = client.get(by_tile["below_cost_rate"]).content.decode()
    assert "acquisition - plan paid - patient pay" in page


def test_breakdown_rows_lead_to_claims_with_the_rows_figures(
    margin_world: SimpleNamespace, login: Any
) -> None:
    client = login(margin_world.owner)
    for dimension in ("drug_class", "contract_type"):
        html = client.get(f"/dashboards/by/{dimension}/?{MARCH}").content.decode()
        expected = recomputed(margin_world, dimension, date(2026, 3, 1), date(2026, 3, 31))
        links = re.findall(r'<tr><td><a href="([^"]+)">[^<]*</a></td><td class="num">(\d+)<', html)
        assert len(links) == len(expected), dimension
        for href, _claims in links:
            total, _ = _drill_total(client, href.replace("&amp;", "&"))
            key = re.search(rf"{dimension}=([a-z_A-Z]+)", href.replace("&amp;", "&"))
            assert key, href
            value = {"other": "", "none": ""}.get(key.group(1), key.group(1))
            assert total == cents(expected[value][NAMES.index("net_margin")]), (dimension, value)


def test_a_store_owner_sees_only_that_store_and_gets_404_for_another(
    margin_world: SimpleNamespace, login: Any
) -> None:
    loc_a, loc_b = margin_world.locations[0], margin_world.locations[1]
    owner_a = member(organization=margin_world.org, role=Role.OWNER, locations=[loc_a])
    client = login(owner_a)
    assert client.get(f"/dashboards/locations/{loc_b.pk}/").status_code == 404
    assert client.get(f"/dashboards/claims/?{MARCH}&location={loc_b.pk}").status_code == 404
    assert client.get(f"/dashboards/locations/{loc_a.pk}/?{MARCH}").status_code == 200
    # the chain overview of a one-store owner is that store's figures only
    mine = tile_values(client.get(f"/dashboards/?{MARCH}").content.decode())
    store = recomputed(margin_world, "location", date(2026, 3, 1), date(2026, 3, 31))
    a = dict(zip(NAMES, store[str(loc_a.pk)], strict=True))
    assert mine["net_margin"] == escape(cents(a["net_margin"]))
    # a foreign store in the controls is ignored, never shown
    assert (
        tile_values(client.get(f"/dashboards/?{MARCH}&location={loc_b.pk}").content.decode())
        == mine
    )
    # the drill page lists its own store's claims only
    html = client.get(f"/dashboards/claims/?{MARCH}&figure=revenue").content.decode()
    total, n = _drill_total(client, f"/dashboards/claims/?{MARCH}&figure=revenue")
    assert n == a["claims"]
    assert total == cents(a["revenue"])
    assert loc_b.name not in html
    # a technician opens no dashboard page
    tech = login(margin_world.technician_0)
    for path in ("/dashboards/", f"/dashboards/locations/{loc_a.pk}/", "/dashboards/claims/",
                 "/dashboards/by/payer/", "/dashboards/benchmark/", "/dashboards/staff/",
                 "/dashboards/report/"):  # fmt: skip
        assert tech.get(path).status_code == 403, path


def test_a_payer_page_shows_that_plan_and_404s_for_a_plan_not_on_the_claims(
    margin_world: SimpleNamespace, login: Any
) -> None:
    client = login(margin_world.owner)
    per_plan = recomputed(margin_world, "payer", date(2026, 1, 1), date(2026, 4, 30))
    plan_id = next(k for k in per_plan if k is not None)
    html = client.get(
        f"/dashboards/payers/{plan_id}/?period=custom&since=2026-01-01&until=2026-04-30"
    ).content.decode()
    figures = dict(zip(NAMES, per_plan[plan_id], strict=True))
    assert tile_values(html)["net_margin"] == escape(cents(figures["net_margin"]))
    stranger = Plan.objects.create(bin="999999", pcn="X", group="NONE", name="Unused plan")
    assert client.get(f"/dashboards/payers/{stranger.pk}/").status_code == 404
    assert client.get("/dashboards/payers/987654321/").status_code == 404


def test_exports_carry_the_page_rows_with_formulas_neutralized(
    margin_world: SimpleNamespace, login: Any
) -> None:
    client = login(margin_world.owner)
    per_plan = recomputed(margin_world, "payer", date(2026, 3, 1), date(2026, 3, 31))
    plan = Plan.objects.get(pk=int(next(k for k in per_plan if k is not None)))
    plan.name = '=HYPERLINK("http://example.invalid","x")'
    plan.save(update_fields=["name"])
    response = client.get(f"/dashboards/by/payer/?{MARCH}&export=csv")
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith('.csv"')
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][0] == "payer"
    labels = [r[0] for r in rows[1:]]
    assert "'" + plan.name in labels
    assert plan.name not in labels
    total = rows[-1]
    assert total[0] == "Total"
    t = sql_totals(margin_world, date(2026, 3, 1), date(2026, 3, 31))
    assert int(total[1]) == t["claims"]
    assert total[rows[0].index("net margin")] == str(Decimal(t["net_margin"]) / 100)
    xlsx = client.get(f"/dashboards/benchmark/?{MARCH}&export=xlsx")
    assert xlsx.status_code == 200
    assert xlsx.content[:2] == b"PK"


def test_controls_keep_the_view_in_the_url_and_fall_back_on_bad_values(
    margin_world: SimpleNamespace, login: Any
) -> None:
    client = login(margin_world.owner)
    html = client.get(f"/dashboards/?{MARCH}").content.decode()
    assert "Mar 1 to Mar 31, 2026" in html
    # the sub-navigation carries the chosen range to every page
    assert (
        'href="/dashboards/by/payer/?period=custom&amp;since=2026-03-01&amp;until=2026-03-31"'
        in html
    )
    # an htmx swap gets the same page (the body is picked out by hx-select)
    swapped = client.get(f"/dashboards/?{MARCH}", HTTP_HX_REQUEST="true")
    assert swapped.status_code == 200
    assert 'id="dash-body"' in swapped.content.decode()
    # a hand-edited URL with nonsense still shows a page: the default range, all stores
    odd = client.get("/dashboards/?period=soon&location=abc&plan=-1&since=not-a-date")
    assert odd.status_code == 200
    assert client.get("/dashboards/by/nothing/").status_code == 404
    for path in ("/dashboards/benchmark/?metric=nonsense", "/dashboards/staff/",
                 "/dashboards/report/?month=2026-13", "/dashboards/report/?month=2026-03",
                 "/dashboards/claims/?figure=nonsense&age=x&drug=y"):  # fmt: skip
        assert client.get(path).status_code == 200, path


def test_benchmark_ranks_stores_best_first_with_the_chain_median(
    margin_world: SimpleNamespace, login: Any
) -> None:
    client = login(margin_world.owner)
    html = client.get(f"/dashboards/benchmark/?{MARCH}").content.decode()
    per_store = recomputed(margin_world, "location", date(2026, 3, 1), date(2026, 3, 31))
    per = {k: per_script(v[NAMES.index("net_margin")], v[0]) for k, v in per_store.items()}
    best_first = sorted(per, key=lambda k: -(per[k] or 0))
    assert len(set(per.values())) == len(per)  # no ties in this world: the order is the test
    shown = re.findall(r'<td class="num">(\d+)</td><td><a href="/dashboards/locations/(\d+)/', html)
    assert shown == [(str(i + 1), k) for i, k in enumerate(best_first)]
    values = sorted(v for v in per.values() if v is not None)
    median = values[len(values) // 2]  # three stores: the middle one
    assert f'data-testid="chain-median">{escape(cents(median))}<' in html
