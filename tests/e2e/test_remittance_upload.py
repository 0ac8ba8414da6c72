"""Central staff upload a payer's 835 in the browser, watch it load, and read a payment."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from reconciliation.models import ClaimPayment, Remittance
from tests.conftest import Visitor, WorkerProcess
from tests.e2e.test_shell import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_upload_an_835_and_open_its_readable_view(
    browser: Visitor,
    stores: SimpleNamespace,
    world_files: Path,
    world_manifest: dict[str, Any],
    transactional_db: Any,
    celery_worker: WorkerProcess,
) -> None:
    # a control-character file: 0x1F between elements, 0x1E after segments, no line breaks
    entry = next(
        e
        for e in sorted(world_manifest["files"], key=lambda e: e["path"])
        if e["kind"] == "remit_835" and e["delimiters"] == "control"
    )
    sign_in(browser, stores.owner)
    browser.goto("/imports/")
    page = browser.page
    page.select_option("#id_kind", "x12_835")
    page.set_input_files("#id_file", str(world_files / entry["path"]))
    page.click("text=Upload and import")
    page.wait_for_url("**/jobs/*/", timeout=20000)
    page.wait_for_function(
        "() => document.querySelector('#job-progress .status').innerText === 'Done'", timeout=60000
    )
    browser.screenshot("835-loaded")
    summary = page.locator("#job-progress").inner_text()
    assert f"{entry['transactions']} payment(s) loaded with {entry['claims']} claim(s)" in summary
    assert ClaimPayment.objects.count() == entry["claims"]

    page.get_by_test_id("job-remittances").click()
    page.wait_for_url("**/reconciliation/?job=*")
    rows = page.get_by_test_id("remittances").locator("tbody tr")
    assert rows.count() == entry["transactions"]
    browser.screenshot("remittance-list")

    biggest = Remittance.objects.order_by("-claim_count", "pk").first()
    assert biggest is not None
    page.locator(f"a[href='/reconciliation/remittances/{biggest.pk}/']").click()
    page.wait_for_url(f"**/reconciliation/remittances/{biggest.pk}/")
    assert "Balanced" in page.get_by_test_id("balance").inner_text()
    claims = page.get_by_test_id("claims").locator("tbody tr")
    assert claims.count() == min(biggest.claim_count, 50)
    text = page.get_by_test_id("claims").inner_text()
    # NDC service lines and reason codes spelled out
    assert "N4:" in text
    assert "Contractual Obligations" in text or "Patient Responsibility" in text
    browser.screenshot("remittance-detail")

    page.click("text=raw segments")
    page.wait_for_url(f"**/reconciliation/remittances/{biggest.pk}/raw/")
    first = page.get_by_test_id("segments").locator("li").first.inner_text()
    assert first.startswith("ST*835*")  # shown with '*' whatever the file used
