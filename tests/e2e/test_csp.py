"""An owner walks the main pages in a real headless Chromium: the Content-Security-Policy
header is on every page, no page breaks it (no inline script, no event-handler attribute,
no eval), and the plotly charts still draw."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from playwright.sync_api import expect

from dashboards.services.rollups import rollups_refresh
from tests.conftest import Visitor
from tests.e2e.test_shell import sign_in
from tests.reconciliation.test_workbench import book

pytestmark = pytest.mark.browser

# the reconciled claims of `book` are dated in February 2026
FEBRUARY = "period=custom&since=2026-02-01&until=2026-02-28"

# every violation the page reports, printed to the console where the test collects it
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (e) {
  console.error("csp-violation: " + e.violatedDirective + " blocked " + (e.blockedURI || "inline")
    + " at " + e.sourceFile + ":" + e.lineNumber);
});
"""


# Refusals that are the policy working, not a page needing more: ReDoc's bundle always draws
# the Redocly logo from the vendor's CDN (the page works without it, and no request leaves).
EXPECTED_REFUSALS = ("/api/redoc/: error: csp-violation: img-src blocked https://cdn.redoc.ly/",)


def _pages(w: SimpleNamespace) -> list[tuple[str, int]]:
    """(path, how many charts it must draw at least)."""
    return [
        ("/", 0),  # the owner's home: the chain overview
        (f"/dashboards/?{FEBRUARY}", 3),
        (f"/dashboards/locations/{w.loc_a.pk}/?{FEBRUARY}", 1),
        (f"/dashboards/by/payer/?{FEBRUARY}", 0),
        ("/dashboards/report/?month=2026-02", 0),
        ("/claims/", 0),
        ("/patients/", 0),
        ("/adherence/", 0),
        ("/adherence/refill-queue/", 0),
        (f"/adherence/locations/{w.loc_a.pk}/", 1),
        (f"/adherence/patients/{w.at_risk.pk}/", 1),
        ("/imports/", 0),
        ("/reconciliation/", 0),
        ("/reconciliation/workbench/", 0),
        ("/clinical/", 0),
        ("/jobs/", 0),
        ("/audit/", 0),
        ("/settings/tokens/", 0),
        ("/accounts/two-factor/setup/", 0),
        ("/api/docs/", 0),
        ("/api/redoc/", 0),
    ]


def test_owner_walks_the_main_pages_without_a_single_csp_violation_and_charts_draw(
    browser: Visitor, worklist_chain: SimpleNamespace, transactional_db: Any
) -> None:
    book(worklist_chain)
    rollups_refresh(organization=worklist_chain.org)
    page = browser.page
    page.add_init_script(REPORT_VIOLATIONS)
    console: list[str] = []
    page.on("console", lambda msg: console.append(f"{page.url}: {msg.type}: {msg.text}"))
    page.on("pageerror", lambda exc: console.append(f"{page.url}: pageerror: {exc}"))

    sign_in(browser, worklist_chain.owner)
    assert page.url.endswith("/dashboards/")
    drawn_total = 0
    for path, min_charts in _pages(worklist_chain):
        response = browser.goto(path)
        assert response.status == 200, path
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy, path
        assert "frame-ancestors 'none'" in policy, path
        page.wait_for_load_state("networkidle")
        charts = page.locator("[data-plotly]")
        for i in range(charts.count()):
            chart = charts.nth(i)
            expect(chart).to_have_attribute("data-drawn", "1")
            assert chart.locator("svg.main-svg").count() >= 1, path
        assert charts.count() >= min_charts, path
        drawn_total += charts.count()
        browser.screenshot(path.strip("/").split("?")[0].replace("/", "-") or "home")

    violations = [line for line in console if "csp-violation" in line or "Refused" in line]
    unexpected = [
        line for line in violations if not any(known in line for known in EXPECTED_REFUSALS)
    ]
    assert unexpected == []
    assert [line for line in console if "pageerror" in line] == []
    assert drawn_total >= 5


def test_an_injected_inline_script_is_refused_and_reported(
    browser: Visitor, chain: SimpleNamespace, transactional_db: Any
) -> None:
    """The check above can fail: the same listener sees an inline script the policy blocks."""
    page = browser.page
    page.add_init_script(REPORT_VIOLATIONS)
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text))
    sign_in(browser, chain.owner)
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.__injected = 1'; document.body.appendChild(s); }"
    )
    page.wait_for_function("() => true")
    assert page.evaluate("window.__injected") is None
    assert any(line.startswith("csp-violation: script-src") for line in console), console
