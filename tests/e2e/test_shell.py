"""The web shell in a real headless Chromium against a live server."""

from __future__ import annotations

from typing import Any

import pytest

from rxrevops.models import Job
from rxrevops.services.jobs import job_create, job_execute
from tests.conftest import Visitor
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def sign_in(browser: Visitor, user: Any) -> None:
    browser.goto("/accounts/login/")
    browser.page.fill("#id_username", user.username)
    browser.page.fill("#id_password", PASSWORD)
    browser.page.click("button[type=submit]")
    browser.page.wait_for_load_state()
    browser.screenshot("signed-in")


def nav_labels(browser: Visitor) -> list[str]:
    return [t.strip() for t in browser.page.locator("nav.mainnav a").all_inner_texts()]


def test_owner_signs_in_and_sees_the_dashboard_shell(
    browser: Visitor, chain: Any, transactional_db: Any
) -> None:
    sign_in(browser, chain.owner)
    page = browser.page
    assert page.url.endswith("/dashboards/")
    assert page.locator("h1").inner_text() == "Chain overview"
    # every store of the chain is listed, before any claim is reconciled
    stores = page.get_by_test_id("store-link").all_inner_texts()
    assert len(stores) == 2
    assert "Maple A" in stores
    assert nav_labels(browser)[:2] == ["Dashboards", "Reconciliation"]
    assert page.locator(".role-badge").inner_text() == "Owner"
    # htmx came from the app's own static files
    assert page.evaluate("window.htmx && window.htmx.version") == "2.0.3"


def test_technician_lands_on_call_lists_and_cannot_open_dashboards(
    browser: Visitor, chain: Any, transactional_db: Any
) -> None:
    sign_in(browser, chain.technician_a)
    assert browser.page.url.endswith("/adherence/")
    assert nav_labels(browser) == ["Call lists", "Patients"]
    response = browser.goto("/dashboards/")
    assert response.status == 403
    assert "Not allowed" in browser.page.content()


def test_wrong_password_is_explained_on_the_sign_in_page(
    browser: Visitor, chain: Any, transactional_db: Any
) -> None:
    browser.goto("/accounts/login/")
    browser.page.fill("#id_username", chain.owner.username)
    browser.page.fill("#id_password", "not-the-password")
    browser.page.click("button[type=submit]")
    assert "didn't match" in browser.page.locator("[role=alert]").inner_text()
    browser.screenshot("wrong-password")


def test_job_page_updates_its_progress_without_a_reload(
    browser: Visitor, chain: Any, transactional_db: Any
) -> None:
    job = job_create(organization=chain.org, kind="test.count", params={"n": 4}, enqueue=False)
    sign_in(browser, chain.owner)
    browser.goto(f"/jobs/{job.pk}/")
    page = browser.page
    assert page.locator("#job-progress .status").inner_text() == "Waiting"
    page.evaluate("window.__marker = 'same document'")
    job_execute(job_id=job.pk)
    page.wait_for_function(
        "() => document.querySelector('#job-progress .status').innerText === 'Done'", timeout=10000
    )
    assert page.evaluate("window.__marker") == "same document"  # swapped in place by htmx
    assert Job.objects.get(pk=job.pk).status == Job.Status.SUCCEEDED
    browser.screenshot("job-done")


def test_owner_creates_a_token_and_reviews_the_audit_log(
    browser: Visitor, chain: Any, transactional_db: Any
) -> None:
    sign_in(browser, chain.owner)
    browser.goto("/settings/tokens/")
    page = browser.page
    page.fill("#id_name", "PioneerRx nightly push")
    page.check("input[name=scopes][value='claims:read']")
    page.check("input[name=scopes][value='jobs:read']")
    page.click("text=Create token")
    page.wait_for_load_state()
    key = page.get_by_test_id("token-key").inner_text()
    assert key.startswith("rxr_")
    browser.screenshot("token-created")
    browser.goto(f"/patients/{chain.patient_a.pk}/")
    browser.goto("/audit/")
    audit = page.locator("table.grid").inner_text()
    assert "Created API token" in audit
    assert "claims.Patient" in audit


def test_sign_out_ends_the_session(browser: Visitor, chain: Any, transactional_db: Any) -> None:
    sign_in(browser, chain.pharmacist_b)
    browser.page.click("text=Sign out")
    browser.page.wait_for_load_state()
    browser.goto("/clinical/")
    assert "/accounts/login/" in browser.page.url
