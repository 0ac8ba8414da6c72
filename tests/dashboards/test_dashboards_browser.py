"""An owner opens the chain overview in a real headless Chromium, changes the date range
(the body is swapped in place and the URL follows), drills from a store to its page and from
its net margin tile to the claims behind it, whose total is the tile's figure."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest

from dashboards.overview import overview_for_user
from dashboards.periods import Period
from rxrevops.templatetags.money import cents
from tests.conftest import Visitor
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_owner_changes_the_range_and_drills_from_a_store_to_its_claims(
    browser: Visitor, margin_world: SimpleNamespace, transactional_db: Any
) -> None:
    march = Period("custom", date(2026, 3, 1), date(2026, 3, 31))
    chain = overview_for_user(margin_world.owner, period=march)
    store = margin_world.locations[1]
    mine = overview_for_user(margin_world.owner, period=march, location=store.pk)
    assert chain.totals.claims
    assert mine.totals.claims

    sign_in(browser, margin_world.owner)
    page = browser.page
    assert page.url.endswith("/dashboards/")
    assert page.locator("h1").inner_text() == "Chain overview"
    # the charts are drawn by the app's own plotly.js
    page.wait_for_selector("[data-testid=chart-waterfall][data-drawn='1']")
    assert page.evaluate("typeof window.Plotly.newPlot") == "function"
    page.evaluate("window.__marker = 1")

    # a custom range: the custom inputs appear, each change swaps the body (no reload)
    assert not page.locator("#id_since").is_visible()
    page.select_option("#id_period", "custom")
    page.wait_for_selector("#id_since", state="visible")
    page.fill("#id_since", "2026-03-01")
    page.fill("#id_until", "2026-03-31")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=period]').innerText"
        ".startsWith('Mar 1 to Mar 31')"
    )
    page.wait_for_selector("[data-testid=chart-trend][data-drawn='1']")
    assert page.evaluate("window.__marker") == 1
    assert "period=custom" in page.url
    assert "since=2026-03-01" in page.url
    assert "until=2026-03-31" in page.url
    net = page.get_by_test_id("tile-net_margin-value").inner_text()
    assert net == cents(chain.totals.net_margin_cents)
    browser.screenshot("overview-march")

    # the bookmarked URL shows the same view in a fresh page
    shared = page.url
    page.goto(shared)
    assert page.get_by_test_id("tile-net_margin-value").inner_text() == net

    # from the store's row to the store's page, the range kept
    page.get_by_test_id("stores-table").get_by_role("link", name=store.name).click()
    page.wait_for_url(f"**/dashboards/locations/{store.pk}/**")
    assert page.locator("h1").inner_text() == store.name
    tile = page.get_by_test_id("tile-net_margin-value").inner_text()
    assert tile == cents(mine.totals.net_margin_cents)
    browser.screenshot("store-page")

    # from the store's net margin tile to the claims behind it
    page.get_by_test_id("tile-net_margin").click()
    page.wait_for_url("**/dashboards/claims/**")
    assert page.get_by_test_id("figure-total").inner_text() == tile
    assert "net margin" in page.get_by_test_id("figure-formula").inner_text().lower()
    rows = page.get_by_test_id("figure-claims-table").locator("tbody tr")
    assert rows.count() == min(50, mine.totals.claims + _void(mine))
    assert all(store.name in text for text in rows.locator("td:nth-child(2)").all_inner_texts())
    browser.screenshot("claims-behind-net-margin")


def _void(ov: Any) -> int:
    """Results that are not dispensed scripts (reversals): the net margin list has them too."""
    from reconciliation.models import ClaimResult

    return ClaimResult.objects.filter(
        location_id=int(ov.current.rows[0].key),
        date_of_service__gte=ov.period.start,
        date_of_service__lte=ov.period.end,
        status__in=("reversal", "reversed"),
    ).count()
