"""Take the README screenshots from a running `make demo` (http://127.0.0.1:8000).

Usage: .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

BASE = os.environ.get("RXREVOPS_URL", "http://127.0.0.1:8000")
PASSWORD = os.environ.get("DEMO_PASSWORD", "prairie-demo-2026")
OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 760})
        page.goto(f"{BASE}/accounts/login/")
        page.screenshot(path=str(OUT / "login.png"))
        page.fill("#id_username", "owner@demo.rxrevops")
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        page.screenshot(path=str(OUT / "dashboard.png"), full_page=True)
        page.goto(f"{BASE}/patients/")
        page.screenshot(path=str(OUT / "patients.png"))
        page.goto(f"{BASE}/claims/?status=reversed")
        page.screenshot(path=str(OUT / "claims.png"))
        page.goto(f"{BASE}/imports/")
        page.screenshot(path=str(OUT / "imports.png"), full_page=True)
        page.goto(f"{BASE}/jobs/1/")  # seed_demo imports the PMS exports first
        page.wait_for_selector("#job-progress")
        page.screenshot(path=str(OUT / "import-job.png"))
        page.goto(f"{BASE}/reconciliation/")
        page.screenshot(path=str(OUT / "remittances.png"))
        page.click("[data-testid=remittances] tbody tr a")
        page.wait_for_selector("[data-testid=claims]")
        page.screenshot(path=str(OUT / "remittance.png"))
        page.goto(f"{BASE}/reconciliation/workbench/")
        page.screenshot(path=str(OUT / "workbench.png"), full_page=True)
        page.locator("a[href*='/reconciliation/workbench/claims/']").first.click()
        page.wait_for_load_state()
        page.screenshot(path=str(OUT / "claim-story.png"), full_page=True)
        page.goto(f"{BASE}/reconciliation/contracts/")
        page.screenshot(path=str(OUT / "payer-contracts.png"), full_page=True)
        page.goto(f"{BASE}/settings/tokens/")
        page.screenshot(path=str(OUT / "tokens.png"), full_page=True)
        page.goto(f"{BASE}/audit/")
        page.screenshot(path=str(OUT / "audit.png"))
        page.goto(f"{BASE}/api/docs/")
        page.wait_for_selector(".swagger-ui .info")
        page.screenshot(path=str(OUT / "api-docs.png"))
        technician = browser.new_page(viewport={"width": 1280, "height": 900})
        _technician_pages(technician)
        pharmacist = browser.new_page(viewport={"width": 1280, "height": 900})
        _pharmacist_pages(pharmacist)
        browser.close()


def _technician_pages(page: Page) -> None:
    page.goto(f"{BASE}/accounts/login/")
    page.fill("#id_username", "technician@demo.rxrevops")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{BASE}/adherence/")
    page.screenshot(path=str(OUT / "call-list.png"))
    page.goto(f"{BASE}/adherence/worklist/refill/")
    page.locator("table a[href*='/adherence/patients/']").first.click()
    page.wait_for_selector(".main-svg")
    page.screenshot(path=str(OUT / "adherence-card.png"), full_page=True)
    page.goto(f"{BASE}/adherence/")
    page.locator("a[href*='/adherence/locations/']").first.click()
    page.wait_for_selector(".main-svg")
    page.screenshot(path=str(OUT / "adherence-panel.png"), full_page=True)


def _pharmacist_pages(page: Page) -> None:
    page.goto(f"{BASE}/accounts/login/")
    page.fill("#id_username", "pharmacist@demo.rxrevops")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{BASE}/clinical/")
    page.screenshot(path=str(OUT / "pharmacist-home.png"), full_page=True)
    page.locator("[data-testid=draft-row] a").first.click()
    page.wait_for_selector("[data-testid=encounter-form]")
    page.screenshot(path=str(OUT / "encounter-editor.png"), full_page=True)
    page.goto(f"{BASE}/clinical/")
    page.locator("[data-testid=recent-signed] a", has_text="Print").first.click()
    page.wait_for_selector("[data-testid=action-plan]")
    page.screenshot(path=str(OUT / "takeaway.png"), full_page=True)
    page.goto(f"{BASE}/clinical/outbox/")
    page.screenshot(path=str(OUT / "outbox.png"))
    page.goto(f"{BASE}/clinical/contracts/")
    page.locator("a[href*='/clinical/contracts/']").last.click()
    page.wait_for_load_state()
    page.screenshot(path=str(OUT / "contract.png"), full_page=True)


if __name__ == "__main__":
    main()
