"""With REQUIRE_OWNER_TOTP on, an owner signing in for the first time in Chromium is sent to
add an authenticator, types the key's current code and reaches the dashboards; the next
sign-in asks for the code after the password. No page breaks the CSP on the way."""

from __future__ import annotations

import base64
from types import SimpleNamespace
from typing import Any

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests.conftest import Visitor
from tests.e2e.test_csp import REPORT_VIOLATIONS
from tests.e2e.test_shell import sign_in

pytestmark = pytest.mark.browser


def code_for(secret_text: str) -> str:
    """What an authenticator app holding the key shown on the page would display now."""
    secret = secret_text.replace(" ", "")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return f"{totp(key):06d}"


def test_an_owner_adds_an_authenticator_then_signs_in_with_its_code(
    browser: Visitor, chain: SimpleNamespace, transactional_db: Any, settings: Any
) -> None:
    settings.REQUIRE_OWNER_TOTP = True
    page = browser.page
    page.add_init_script(REPORT_VIOLATIONS)
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text))

    sign_in(browser, chain.owner)
    assert "/accounts/two-factor/setup/" in page.url
    expect(page.get_by_role("alert")).to_have_text(
        "Owners must use an authenticator app to sign in. Add one now to continue."
    )
    browser.goto("/claims/")  # any other page sends the owner back here
    assert "/accounts/two-factor/setup/" in page.url
    secret = page.get_by_test_id("totp-secret").inner_text()
    page.fill("#id_code", code_for(secret))
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    page.wait_for_url("**/claims/")
    expect(page.locator("h1")).to_have_text("Claims")
    browser.screenshot("enrolled")

    page.click("text=Sign out")
    page.wait_for_load_state()
    # a code is accepted once; let the same 30-second code serve the second sign-in
    TOTPDevice.objects.filter(user=chain.owner).update(last_t=-1)
    sign_in(browser, chain.owner)
    assert "/accounts/two-factor/" in page.url
    expect(page.locator("h1")).to_have_text("Enter your authenticator code")
    page.fill("#id_code", "000000" if code_for(secret) != "000000" else "111111")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_contain_text("That code is not right")
    TOTPDevice.objects.filter(user=chain.owner).update(throttling_failure_count=0)
    page.fill("#id_code", code_for(secret))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url("**/dashboards/")
    browser.screenshot("verified")
    assert [line for line in console if line.startswith("csp-violation")] == []
