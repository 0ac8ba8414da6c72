"""A technician works the call list from the keyboard, and a patient's adherence card draws
its fill timeline, in a real headless Chromium against a live server."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from adherence.models import Outreach, WorklistItem
from tests.conftest import Visitor
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_a_technician_works_three_calls_from_the_list_with_the_keyboard(
    browser: Visitor, worklist_chain: SimpleNamespace, transactional_db: Any
) -> None:
    calls = list(
        WorklistItem.objects.filter(
            location=worklist_chain.loc_a, kind=WorklistItem.Kind.MED_SYNC
        ).order_by("due_date")
    )
    assert [c.patient for c in calls] == worklist_chain.synced_a
    sign_in(browser, worklist_chain.technician_a)
    browser.goto("/adherence/?date=2026-11-23")
    page = browser.page
    assert "Reached: no changes" in page.get_by_test_id("key-hints").inner_text()
    page.evaluate("window.__marker = 1")

    page.keyboard.press("j")  # nothing focused yet: j selects the first row
    page.wait_for_function(f"() => document.activeElement.id === 'item-{calls[0].pk}'")
    for call, key, label, following in zip(
        calls,
        ["1", "3", "5"],
        ["Reached: no changes", "Not reached", "Ready to fill"],
        [*calls[1:], None],
        strict=True,
    ):
        page.keyboard.press(key)
        page.wait_for_function(
            "([id, label]) => document.querySelector('#' + id + ' [data-testid=last-outcome]')"
            ".innerText === label",
            arg=[f"item-{call.pk}", label],
        )
        if following is not None:  # the next call row is selected, ready for its key
            page.wait_for_function(f"() => document.activeElement.id === 'item-{following.pk}'")
        browser.screenshot(f"logged-{key}")

    assert page.evaluate("window.__marker") == 1  # rows were swapped in place, no reload
    statuses = [page.locator(f"#item-{c.pk} [data-testid=item-status]").inner_text() for c in calls]
    assert statuses[0].startswith("Done")
    assert statuses[1].startswith("Open · 1 attempt")
    assert statuses[2].startswith("Done")
    logged = list(Outreach.objects.order_by("pk").values_list("item_id", "outcome", "by"))
    assert logged == [
        (calls[0].pk, "reached_no_changes", worklist_chain.technician_a.pk),
        (calls[1].pk, "not_reached", worklist_chain.technician_a.pk),
        (calls[2].pk, "ready_to_fill", worklist_chain.technician_a.pk),
    ]
    assert [WorklistItem.objects.get(pk=c.pk).status for c in calls] == ["done", "open", "done"]


def test_the_patient_card_draws_the_fill_timeline(
    browser: Visitor, worklist_chain: SimpleNamespace, transactional_db: Any
) -> None:
    sign_in(browser, worklist_chain.technician_a)
    browser.goto(f"/patients/{worklist_chain.at_risk.pk}/")
    page = browser.page
    card = f"/adherence/patients/{worklist_chain.at_risk.pk}/"
    assert page.get_by_test_id("adherence-card-link").get_attribute("href") == card
    browser.goto(f"{card}?date=2026-11-23")  # the day the lists were built
    page.wait_for_selector("#fill-timeline .main-svg")
    browser.screenshot("timeline")
    # plotly.js came from the app's own static files
    assert page.evaluate("window.Plotly.version").startswith("4.")
    # one bar per fill and one for the gap since the supply ran out on Oct 2
    assert page.locator("#fill-timeline .barlayer .point").count() == 9 + 1
    assert page.locator("#fill-timeline .ytick text").all_text_contents() == [
        "PDC-STA · atorvastatin"
    ]
    rows = page.get_by_test_id("pdc-row")
    assert rows.count() == 1
    cells = rows.first.locator("td").all_inner_texts()
    assert cells[0] == "PDC-STA"
    assert cells[1].startswith("83.6%")
    assert "pharmacy-data estimate" in page.get_by_test_id("estimate").inner_text()
