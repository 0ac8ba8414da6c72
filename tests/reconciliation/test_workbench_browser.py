"""A revenue analyst works the reconciliation workbench in a real headless Chromium against a
live server: filters the exceptions by kind and store (htmx, bookmarkable), opens a claim's
whole story and marks it appealed with a note, which then shows with who and when."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import pytest
from playwright.sync_api import expect

from reconciliation.case_models import CaseNote, ExceptionCase
from tests.conftest import Visitor
from tests.e2e.test_shell import sign_in
from tests.reconciliation.test_workbench import book

pytestmark = pytest.mark.browser

NOTE = "Appeal filed with Birch, reference BR-2291"


def test_revenue_filters_the_workbench_opens_a_claims_story_and_marks_it_appealed(
    browser: Visitor, chain: SimpleNamespace, transactional_db: Any
) -> None:
    recon = book(chain)
    sign_in(browser, chain.revenue)
    page = browser.page
    browser.goto("/reconciliation/workbench/")
    expect(page.locator("h1")).to_have_text("Reconciliation workbench")
    expect(page.get_by_test_id("exception-row")).to_have_count(9)
    expect(page.get_by_test_id("tile-short_paid-count")).to_have_text("2")
    expect(page.get_by_test_id("tile-short_paid-cents")).to_have_text("$27.00 at stake")
    expect(page.locator("nav.mainnav")).to_contain_text("Workbench")

    # filter: short-paid claims at store B, swapped in by htmx, the URL kept for a bookmark
    page.select_option("[name=kind]", "short_paid")
    page.select_option("[name=location]", str(chain.loc_b.pk))
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"kind=short_paid"))
    rows = page.get_by_test_id("exception-row")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Maple B")
    expect(rows).to_contain_text("$20.00")
    expect(page.get_by_test_id("tile-short_paid-count")).to_have_text("1")
    assert f"location={chain.loc_b.pk}" in page.url
    browser.screenshot("filtered")

    # the bookmark opens the same view
    bookmarked = page.url
    browser.page.goto(bookmarked)
    expect(page.get_by_test_id("exception-row")).to_have_count(1)
    expect(page.locator("[name=kind]")).to_have_value("short_paid")

    # the claim's whole story
    rows.get_by_role("link").first.click()
    page.wait_for_url(re.compile(rf"/workbench/claims/{recon.short_b.pk}/"))
    expect(page.get_by_test_id("story-headline")).to_contain_text("Short-paid")
    expect(page.get_by_test_id("story-stake")).to_have_text("$20.00")
    payments = page.get_by_test_id("story-payments")
    expect(payments).to_contain_text("AUTHB1")
    expect(payments).to_contain_text("CO-45")
    expect(page.get_by_test_id("story-claim")).to_contain_text("Birch Commercial")
    expect(page.get_by_test_id("story-margin")).to_contain_text("Net margin")
    expect(page.get_by_test_id("case-status")).to_contain_text("Open")
    browser.screenshot("story")

    # mark it appealed with a note
    page.select_option("[data-testid=case-form] [name=status]", "appealed")
    page.fill("[data-testid=case-form] [name=note]", NOTE)
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("case-status")).to_contain_text("Appealed")
    note = page.get_by_test_id("case-note")
    expect(note).to_have_count(1)
    expect(note).to_contain_text(NOTE)
    expect(note).to_contain_text("Open → Appealed")
    expect(note).to_contain_text(chain.revenue.username)
    expect(note).to_contain_text(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d"))
    browser.screenshot("appealed")

    case = ExceptionCase.objects.get(fill=recon.short_b)
    assert (case.status, case.kind, case.amount_cents) == ("appealed", "short_paid", 2000)
    step = CaseNote.objects.get(case=case)
    assert (step.author, step.text, step.status_to) == (chain.revenue, NOTE, "appealed")

    # back on the workbench, the claim is listed as appealed
    browser.goto("/reconciliation/workbench/?case_status=appealed")
    row = page.get_by_test_id("exception-row")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("row-case")).to_have_text("Appealed")
