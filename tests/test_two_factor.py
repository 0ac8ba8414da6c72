"""The optional TOTP second factor: adding an authenticator, the code after the password,
REQUIRE_OWNER_TOTP sending owners to enrol before anything else, and the admin's reset."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from rxrevops.models import AuditEvent
from tests.factories import PASSWORD

SETUP = "/accounts/two-factor/setup/"
VERIFY = "/accounts/two-factor/"


def code_of(device: TOTPDevice) -> str:
    """What the user's authenticator app shows now."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def password_sign_in(user: Any, *, next_url: str = "") -> Client:
    client = Client()
    data = {"username": user.username, "password": PASSWORD, "next": next_url}
    assert client.post("/accounts/login/", data).status_code == 302
    return client


def test_a_user_adds_an_authenticator_with_the_key_shown_and_a_first_code(
    chain: Any, login: Any
) -> None:
    client = login(chain.pharmacist_b)
    page = client.get(SETUP).content.decode()
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', page).group(1)  # type: ignore[union-attr]
    device = TOTPDevice.objects.get(user=chain.pharmacist_b, confirmed=False)
    assert secret.replace(" ", "") == base64.b32encode(device.bin_key).decode()
    assert "otpauth://totp/RxRevOps%3A" in page
    # reloading the page keeps the same key (the app may already hold it)
    assert secret in client.get(SETUP).content.decode()

    wrong = client.post(SETUP, {"code": "123"})
    assert wrong.status_code == 400
    assert "Enter the 6-digit code your authenticator app shows." in wrong.content.decode()
    done = client.post(SETUP, {"code": code_of(device), "next": "/clinical/"})
    assert done["Location"] == "/clinical/"
    assert TOTPDevice.objects.get(user=chain.pharmacist_b).confirmed
    assert "Your authenticator app is set up" in client.get(SETUP).content.decode()
    assert AuditEvent.objects.filter(
        actor_user=chain.pharmacist_b, action="create", summary__contains="TOTP"
    ).exists()


def test_with_an_authenticator_every_page_waits_for_the_code_after_the_password(
    chain: Any,
) -> None:
    device = TOTPDevice.objects.create(user=chain.owner, name="phone", confirmed=True)
    client = password_sign_in(chain.owner, next_url="/claims/")
    stopped = client.get("/claims/")
    assert stopped["Location"] == f"{VERIFY}?next=%2Fclaims%2F"
    assert client.get("/api/v1/me/").status_code == 403
    form = client.get(stopped["Location"]).content.decode()
    assert "Enter your authenticator code" in form
    # until the code is given the page leads nowhere else: no main navigation, a way out
    assert 'class="mainnav"' not in form
    assert 'action="/accounts/logout/"' in form

    wrong = client.post(VERIFY, {"code": "000000", "next": "/claims/"})
    assert wrong.status_code == 400
    assert "That code is not right" in wrong.content.decode()
    # a wrong code makes the next try wait (django-otp's doubling delay)
    throttled = client.post(VERIFY, {"code": code_of(device), "next": "/claims/"})
    assert "Too many wrong codes in a row: wait until" in throttled.content.decode()

    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)
    ok = client.post(VERIFY, {"code": code_of(device), "next": "/claims/"})
    assert ok["Location"] == "/claims/"
    signed_in = client.get("/claims/")
    assert signed_in.status_code == 200
    assert 'class="mainnav"' in signed_in.content.decode()
    assert client.get("/api/v1/me/").status_code == 200


def test_the_code_page_never_sends_the_user_off_site(chain: Any) -> None:
    device = TOTPDevice.objects.create(user=chain.owner, name="phone", confirmed=True)
    client = password_sign_in(chain.owner)
    ok = client.post(VERIFY, {"code": code_of(device), "next": "https://evil.example/"})
    assert ok["Location"] == "/"


def test_without_the_setting_an_owner_without_an_authenticator_goes_anywhere(
    chain: Any, login: Any
) -> None:
    assert login(chain.owner).get("/dashboards/").status_code == 200


def test_required_for_owners_an_owner_must_enrol_before_any_other_page(
    chain: Any, login: Any, settings: Any
) -> None:
    settings.REQUIRE_OWNER_TOTP = True
    owner = login(chain.owner)
    sent = owner.get("/dashboards/")
    assert sent["Location"] == f"{SETUP}?next=%2Fdashboards%2F"
    assert owner.get("/audit/")["Location"].startswith(SETUP)
    assert owner.get("/claims/", HTTP_HX_REQUEST="true")["HX-Redirect"].startswith(SETUP)
    assert owner.get("/api/v1/me/").status_code == 403
    page = owner.get(sent["Location"]).content.decode()
    assert "Owners must use an authenticator app to sign in. Add one now to continue." in page
    assert 'class="mainnav"' not in page

    device = TOTPDevice.objects.get(user=chain.owner, confirmed=False)
    done = owner.post(SETUP, {"code": code_of(device), "next": "/dashboards/"})
    assert done["Location"] == "/dashboards/"
    assert owner.get("/dashboards/").status_code == 200
    # the setup page opened by choice (from the top bar) keeps the navigation
    assert 'class="mainnav"' in owner.get(SETUP).content.decode()
    # other roles are not asked
    assert login(chain.revenue).get("/reconciliation/").status_code == 200


def test_totp_reset_command_removes_a_lost_authenticator_and_logs_it(chain: Any) -> None:
    TOTPDevice.objects.create(user=chain.owner, name="phone", confirmed=True)
    call_command("totp_reset", chain.owner.username)
    assert not TOTPDevice.objects.filter(user=chain.owner).exists()
    event = AuditEvent.objects.get(action="delete", summary__contains="TOTP")
    assert chain.owner.username in event.summary
    assert event.actor_label.startswith("manage.py")
    # the next sign-in needs only the password
    client = password_sign_in(chain.owner)
    assert client.get("/dashboards/").status_code == 200
    with pytest.raises(CommandError, match="has no authenticator"):
        call_command("totp_reset", chain.owner.username)
    with pytest.raises(CommandError, match="No user named"):
        call_command("totp_reset", "nobody@example.test")


def test_an_admin_deleting_a_device_is_an_audited_reset(chain: Any, login: Any) -> None:
    admin_user = User.objects.create_superuser("root@example.test", "root@example.test", "x")
    device = TOTPDevice.objects.create(user=chain.owner, name="phone", confirmed=True)
    response = login(admin_user).post(
        f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
    event = AuditEvent.objects.get(action="delete", summary__contains="TOTP")
    assert event.actor_label == "admin (root@example.test)"
