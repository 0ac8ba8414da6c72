"""Repeated wrong passwords lock one username from one address for a while (django-axes):
the person sees a page saying so and until when, other people and addresses are not
affected, and API tokens never are."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.utils import timezone

from rxrevops.services.tokens import api_token_create
from tests.factories import PASSWORD

LOGIN = "/accounts/login/"


def sign_in(client: Client, username: str, password: str, **extra: Any) -> Any:
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def fail(client: Client, username: str, times: int, **extra: Any) -> Any:
    response = None
    for _ in range(times):
        response = sign_in(client, username, "not-the-password", **extra)
    return response


def local(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo(settings.TIME_ZONE)).strftime("%H:%M %Z")


def test_five_wrong_passwords_pause_sign_in_and_the_page_says_until_when(chain: Any) -> None:
    client = Client()
    for _ in range(4):
        assert "didn't match" in sign_in(client, chain.owner.username, "nope").content.decode()
    before = timezone.now()
    locked = sign_in(client, chain.owner.username, "nope")
    after = timezone.now()
    assert locked.status_code == 429
    assert locked["Retry-After"] == "900"
    page = locked.content.decode()
    assert "Sign-in paused" in page
    assert "(5 in a row)" in page
    assert "paused for 15 minutes" in page
    retry_at = {local(before + timedelta(minutes=15)), local(after + timedelta(minutes=15))}
    assert any(f'data-testid="retry-at">{t}<' in page for t in retry_at), page

    # even the right password is refused now, with the same page, and nobody is signed in
    refused = sign_in(client, chain.owner.username, PASSWORD)
    assert refused.status_code == 429
    assert "Sign-in paused" in refused.content.decode()
    assert client.get("/dashboards/")["Location"].startswith(LOGIN)


def test_the_lock_holds_one_username_from_one_address_only(chain: Any) -> None:
    fail(Client(), chain.owner.username, 5)
    # the same person from another address, and another person from the same address
    elsewhere = sign_in(Client(), chain.owner.username, PASSWORD, REMOTE_ADDR="10.1.2.3")
    assert elsewhere.status_code == 302
    colleague = sign_in(Client(), chain.revenue.username, PASSWORD)
    assert colleague.status_code == 302
    assert sign_in(Client(), chain.owner.username, PASSWORD).status_code == 429


def test_sign_in_works_again_once_the_wait_is_over(chain: Any) -> None:
    client = Client()
    fail(client, chain.owner.username, 5)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert sign_in(client, chain.owner.username, PASSWORD).status_code == 302
    assert client.get("/dashboards/").status_code == 200


def test_a_successful_sign_in_starts_the_count_again(chain: Any) -> None:
    client = Client()
    fail(client, chain.owner.username, 4)
    assert sign_in(client, chain.owner.username, PASSWORD).status_code == 302
    client.post("/accounts/logout/")
    fail(client, chain.owner.username, 4)
    assert sign_in(client, chain.owner.username, PASSWORD).status_code == 302


def test_limit_and_wait_come_from_settings(chain: Any, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(minutes=1)
    client = Client()
    assert fail(client, chain.owner.username, 1).status_code == 200
    locked = fail(client, chain.owner.username, 1)
    assert locked.status_code == 429
    assert locked["Retry-After"] == "60"
    assert "(2 in a row)" in locked.content.decode()
    assert "paused for 1 minute." in locked.content.decode()


def test_an_api_token_keeps_working_from_a_locked_out_address(chain: Any) -> None:
    fail(Client(), chain.owner.username, 5)
    issued = api_token_create(organization=chain.org, name="PMS", scopes=["claims:read"])
    response = Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {issued.key}")
    assert response.status_code == 200


def test_behind_the_proxy_the_address_is_the_one_the_proxy_saw(chain: Any, settings: Any) -> None:
    """Only the last X-Forwarded-For entry is the proxy's: a client changing the entries it
    sends itself still counts against one address."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    for n in range(5):
        fail(Client(), chain.owner.username, 1, HTTP_X_FORWARDED_FOR=f"1.1.1.{n}, 203.0.113.7")
    assert AccessAttempt.objects.get().ip_address == "203.0.113.7"
    locked = sign_in(Client(), chain.owner.username, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert locked.status_code == 429
    other = sign_in(Client(), chain.owner.username, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.8")
    assert other.status_code == 302


def test_an_attempt_during_the_wait_starts_it_again(chain: Any) -> None:
    client = Client()
    fail(client, chain.owner.username, 5)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=10))
    before = timezone.now()
    assert sign_in(client, chain.owner.username, PASSWORD).status_code == 429
    # the wait now runs from this attempt: 15 minutes from now, not 5
    assert AccessAttempt.objects.get().attempt_time >= before
