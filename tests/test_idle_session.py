"""A signed-in session ends after SESSION_IDLE_MINUTES without a request: the next request
lands on the sign-in page, which says why."""

from __future__ import annotations

import time
from typing import Any

from django.test import Client

from rxrevops.signin.middleware import LAST_SEEN_KEY


def idle_for(client: Client, minutes: float) -> None:
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time() - minutes * 60)
    session.save()


def test_a_request_stamps_the_session_as_seen(chain: Any, login: Any) -> None:
    client = login(chain.owner)
    assert LAST_SEEN_KEY not in client.session
    client.get("/dashboards/")
    assert abs(client.session[LAST_SEEN_KEY] - time.time()) < 5


def test_after_30_idle_minutes_the_user_signs_in_again_and_is_told_why(
    chain: Any, login: Any
) -> None:
    client = login(chain.owner)
    client.get("/dashboards/")
    idle_for(client, 31)
    response = client.get("/claims/?status=open")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/claims/%3Fstatus%3Dopen"
    page = client.get(response["Location"]).content.decode()
    assert "Your session expired after 30 minutes without activity." in page
    assert "Sign in again to continue." in page
    # signed out for good, not just redirected once
    assert client.get("/dashboards/")["Location"].startswith("/accounts/login/")


def test_activity_within_the_limit_keeps_the_session(chain: Any, login: Any) -> None:
    client = login(chain.owner)
    client.get("/dashboards/")
    idle_for(client, 29)
    assert client.get("/claims/").status_code == 200
    assert abs(client.session[LAST_SEEN_KEY] - time.time()) < 5  # the clock restarts
    idle_for(client, 29)
    assert client.get("/claims/").status_code == 200


def test_the_limit_comes_from_settings(chain: Any, login: Any, settings: Any) -> None:
    settings.SESSION_IDLE_MINUTES = 5
    client = login(chain.owner)
    client.get("/dashboards/")
    idle_for(client, 6)
    response = client.get("/dashboards/", follow=True)
    assert "Your session expired after 5 minutes without activity." in response.content.decode()


def test_an_htmx_request_after_the_limit_reloads_the_whole_page_at_sign_in(
    chain: Any, login: Any
) -> None:
    client = login(chain.owner)
    client.get("/dashboards/")
    idle_for(client, 31)
    response = client.get("/reconciliation/workbench/", HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"].startswith("/accounts/login/?next=")


def test_an_api_call_on_an_idle_session_is_refused_not_redirected(chain: Any, login: Any) -> None:
    client = login(chain.owner)
    assert client.get("/api/v1/me/").status_code == 200
    idle_for(client, 31)
    response = client.get("/api/v1/me/")
    assert response.status_code in (401, 403)
    assert response["Content-Type"] == "application/problem+json"


def test_a_job_page_polling_on_its_own_does_not_keep_the_session_alive(
    chain: Any, login: Any
) -> None:
    """The job page refreshes its progress every 2 s (with the poll header): a screen left
    on it still signs out after the idle limit."""
    from rxrevops.models import Job
    from rxrevops.signin.middleware import POLL_HEADER

    client = login(chain.owner)
    job = Job.objects.create(
        organization=chain.org, location=chain.loc_a, kind="pms", label="PMS export"
    )
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert f'hx-headers=\'{{"{POLL_HEADER}": "1"}}\'' in page
    idle_for(client, 29)
    stamped = client.session[LAST_SEEN_KEY]
    polled = client.get(f"/jobs/{job.pk}/", HTTP_HX_REQUEST="true", HTTP_X_RXREVOPS_POLL="1")
    assert polled.status_code == 200
    assert client.session[LAST_SEEN_KEY] == stamped  # answered, but not activity
    idle_for(client, 31)
    polled = client.get(f"/jobs/{job.pk}/", HTTP_HX_REQUEST="true", HTTP_X_RXREVOPS_POLL="1")
    assert polled["HX-Redirect"].startswith("/accounts/login/?next=")
