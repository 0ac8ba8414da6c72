"""A pharmacist uploads a PMS export in the browser and watches the import finish."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from claims.models import Fill
from tests.conftest import Visitor, WorkerProcess
from tests.e2e.test_shell import sign_in
from tests.support.pms_fixtures import pms_file

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_upload_in_the_browser_and_watch_the_progress_bar_finish(
    browser: Visitor,
    stores: SimpleNamespace,
    world_files: Path,
    world_manifest: dict[str, Any],
    transactional_db: Any,
    celery_worker: WorkerProcess,
) -> None:
    store = stores.locations[2]
    entry = next(
        e
        for e in world_manifest["files"]
        if e["kind"] == "pms" and e["location"] == store.ncpdp_id and e["layout"] == "liberty"
    )
    sign_in(browser, stores.owner)
    browser.goto("/imports/")
    page = browser.page
    page.select_option("#id_location", str(store.pk))
    page.set_input_files("#id_file", str(world_files / entry["path"]))
    assert entry["path"].split("/")[-1] in page.locator("[data-filename]").inner_text()
    page.click("text=Upload and import")
    page.wait_for_url("**/jobs/*/", timeout=20000)
    page.wait_for_function(
        "() => document.querySelector('#job-progress .status').innerText === 'Done'", timeout=60000
    )
    browser.screenshot("import-done")
    n = entry["rows"]
    assert (
        page.get_by_test_id("tally")
        .inner_text()
        .startswith(f"Rows read {n} = inserted {n} + updated 0 + unchanged 0 + quarantined 0")
    )
    assert Fill.objects.filter(location=store).count() == entry["rows"]
    assert page.locator("#job-progress progress").get_attribute("value") == "100"


def test_claims_page_lists_the_imported_claims(
    browser: Visitor,
    stores: SimpleNamespace,
    world_files: Path,
    world_manifest: dict[str, Any],
    transactional_db: Any,
) -> None:
    from claims.services.pms_import import pms_import_path

    store = stores.locations[0]
    pms_import_path(
        location=store,
        path=pms_file(
            world_manifest,
            world_files,
            layout="canonical",
            location=store.ncpdp_id,
            period="2026-01",
        ),
    )
    sign_in(browser, stores.owner)
    browser.goto(f"/claims/?location={store.pk}&status=reversed")
    rows = browser.page.locator("table.grid tbody tr").count()
    assert rows == min(50, Fill.objects.filter(location=store, status="reversed").count())
    browser.goto("/imports/")
    assert "Recent imports" in browser.page.content()
