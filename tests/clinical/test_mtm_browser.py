"""A pharmacist documents a CMR from the worklist in a real headless Chromium against a live
server: starts it from the pharmacist home, fills the editor (autosaved over htmx), adds an
action-plan row, signs it and opens the patient take-away and its PDF."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import pytest
from playwright.sync_api import expect

from adherence.models import WorklistItem
from clinical.models import ClinicalClaim, Encounter
from clinical.services.encounters import encounter_start
from tests.clinical.test_encounters import cmr_patient
from tests.conftest import Visitor
from tests.e2e.test_shell import sign_in
from tests.support.adherence_world import AS_OF, build

pytestmark = pytest.mark.browser

SAVED = re.compile(r"^Draft saved at \d\d:\d\d:\d\d$")
EDITOR_URL = re.compile(r"/clinical/encounters/(\d+)/$")
TALKED_ABOUT = "Missed evening doses on weekends"
PATIENT_ACTION = "Use a weekly pill box and set a phone alarm for 8 pm"


def test_a_pharmacist_documents_a_cmr_from_the_worklist_signs_it_and_opens_the_take_away(
    browser: Visitor, worklist_chain: SimpleNamespace, transactional_db: Any
) -> None:
    chain = worklist_chain
    patient = cmr_patient(chain.loc_b)  # pharmacist_b works at store B only
    build(chain.org)
    gap = WorklistItem.objects.get(patient=patient, code="cmr:2026")
    assert gap.status == "open"

    sign_in(browser, chain.pharmacist_b)
    browser.goto("/clinical/")
    page = browser.page
    row = page.get_by_test_id("cmr-due-row").filter(has_text="Manymeds")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Maple B")

    # Start CMR: a draft opens with the medication list from the pharmacy's fills
    row.get_by_test_id("start-cmr").click()
    page.wait_for_url(EDITOR_URL)
    match = EDITOR_URL.search(page.url)
    assert match is not None
    enc = Encounter.objects.get(pk=int(match.group(1)))
    assert (enc.patient_id, enc.kind, enc.status) == (patient.pk, "cmr", "draft")
    assert enc.worklist_item_id == gap.pk
    expect(page.get_by_test_id("encounter-status")).to_contain_text("Draft")
    expect(page.get_by_test_id("medication-row")).to_have_count(8)
    browser.screenshot("editor")

    # typing autosaves the draft
    page.fill("[name=minutes]", "40")
    page.fill("[name=assessment]", "Adherence gaps with the evening doses; BP at goal.")
    page.fill("[name=plan]", "Pill box and an alarm; recheck refills next month.")
    expect(page.get_by_test_id("autosave-status")).to_have_text(SAVED)
    browser.screenshot("autosaved")
    enc.refresh_from_db()
    assert enc.minutes == 40
    assert enc.plan == "Pill box and an alarm; recheck refills next month."

    # "Add a problem" saves and reloads the editor with an empty problem row
    page.get_by_test_id("add-problem").click()
    page.wait_for_url(re.compile(r"\?add=problem"))
    expect(page.get_by_test_id("problem-row")).to_have_count(1)
    expect(page.locator("[name=minutes]")).to_have_value("40")
    page.select_option("[name=problem-0-reason_code]", "SC")
    page.select_option("[name=problem-0-service_code]", "PE")
    page.select_option("[name=problem-0-result_code]", "3K")
    page.fill("[name=problem-0-talked_about]", TALKED_ABOUT)
    page.fill("[name=problem-0-patient_action]", PATIENT_ACTION)
    expect(page.get_by_test_id("autosave-status")).to_have_text(SAVED)
    browser.screenshot("problem")

    # sign and lock
    page.get_by_test_id("sign").click()
    expect(page.get_by_test_id("encounter-status")).to_contain_text("Signed")
    expect(page.get_by_test_id("signed-record")).to_contain_text(TALKED_ABOUT)
    expect(page.get_by_test_id("encounter-form")).to_have_count(0)
    browser.screenshot("signed")

    # the patient take-away: cover letter, action plan, personal medication list
    page.get_by_test_id("open-takeaway").click()
    page.wait_for_url(re.compile(r"/take-away/$"))
    expect(page.get_by_test_id("cover-letter")).to_be_visible()
    actions = page.get_by_test_id("action-plan").get_by_test_id("action-row")
    expect(actions).to_have_count(1)
    expect(actions).to_contain_text(TALKED_ABOUT)
    expect(actions).to_contain_text(PATIENT_ACTION)
    expect(page.get_by_test_id("medication-list").get_by_test_id("pml-row")).to_have_count(8)
    browser.screenshot("take-away")
    href = page.get_by_role("link", name="PDF").get_attribute("href")
    assert href == f"/clinical/encounters/{enc.pk}/take-away.pdf"
    pdf = page.request.get(browser.base_url + href)
    assert pdf.status == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")

    # the record is signed and billed: 40 minutes, new patient = 99605 + 99607 x2
    enc.refresh_from_db()
    assert enc.status == "signed"
    assert enc.signed_by == chain.pharmacist_b
    assert enc.minutes == 40
    problem = enc.problems.get()
    assert (problem.reason_code, problem.service_code, problem.result_code) == ("SC", "PE", "3K")
    claim = ClinicalClaim.objects.get(encounter_series=enc.series)
    assert [(line["code"], line["units"]) for line in claim.lines] == [("99605", 1), ("99607", 2)]
    assert ClinicalClaim.objects.count() == 1

    # the next worklist build closes the CMR gap
    build(chain.org)
    gap.refresh_from_db()
    assert gap.status != "open"
    assert not WorklistItem.objects.filter(patient=patient, code="cmr:2026", status="open").exists()


def test_signing_without_an_assessment_names_it_and_ctrl_s_saves_now(
    browser: Visitor, worklist_chain: SimpleNamespace, transactional_db: Any
) -> None:
    chain = worklist_chain
    patient = cmr_patient(chain.loc_b)
    enc = encounter_start(user=chain.pharmacist_b, patient=patient, today=AS_OF)
    sign_in(browser, chain.pharmacist_b)
    browser.goto(f"/clinical/encounters/{enc.pk}/")
    page = browser.page
    expect(page.get_by_test_id("medication-row")).to_have_count(8)

    page.get_by_test_id("add-problem").click()
    page.wait_for_url(re.compile(r"\?add=problem"))
    expect(page.get_by_test_id("problem-row")).to_have_count(1)
    page.fill("[name=minutes]", "20")
    page.fill("[name=plan]", "Pill box.")
    page.select_option("[name=problem-0-reason_code]", "SC")
    page.fill("[name=problem-0-talked_about]", TALKED_ABOUT)
    page.fill("[name=problem-0-patient_action]", PATIENT_ACTION)
    expect(page.get_by_test_id("autosave-status")).to_have_text(SAVED)

    # the assessment is left empty: signing is refused, naming it
    page.get_by_test_id("sign").click()
    errors = page.get_by_test_id("sign-errors")
    expect(errors).to_be_visible()
    expect(errors.locator("li[data-field=assessment]")).to_have_text(
        "The assessment is required to sign."
    )
    assert errors.locator("li").evaluate_all("els => els.map(e => e.dataset.field)") == [
        "assessment"
    ]
    expect(page.get_by_test_id("encounter-status")).to_contain_text("Draft")
    browser.screenshot("sign-errors")
    enc.refresh_from_db()
    assert enc.status == "draft"
    assert (enc.minutes, enc.plan, enc.problems.count()) == (20, "Pill box.", 1)
    assert not ClinicalClaim.objects.exists()

    # nothing typed since the page loaded: Ctrl+S alone saves the draft now
    status = page.locator("#autosave")
    expect(status).to_have_text("")
    page.keyboard.press("Control+s")
    expect(page.get_by_test_id("autosave-status")).to_have_text(SAVED)
    browser.screenshot("ctrl-s")
    enc.refresh_from_db()
    assert enc.status == "draft"

    # with the assessment written, Ctrl+Enter signs
    page.fill("[name=assessment]", "Misses evening doses.")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_test_id("encounter-status")).to_contain_text("Signed")
    expect(page.get_by_test_id("sign-errors")).to_have_count(0)
    enc.refresh_from_db()
    assert (enc.status, enc.assessment) == ("signed", "Misses evening doses.")
    claim = ClinicalClaim.objects.get(encounter_series=enc.series)
    assert [(line["code"], line["units"]) for line in claim.lines] == [("99605", 1), ("99607", 1)]
