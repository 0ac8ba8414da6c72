"""CSRF everywhere (issue 11): every route of the URL conf, pages and API alike, refuses a POST
made with a signed-in browser session but without the CSRF token, before the view runs. The
routes come from the URL conf, so a route added tomorrow is checked without editing this file.
API tokens are not cookies and need no CSRF token; the one route exempt on purpose is listed
with why."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from rxrevops.models import Job
from tests.support.isolation import SKIPPED_PREFIXES, Route, routes

# routes that take POSTs from machines, not browsers, and why they may skip CSRF
EXEMPT = {
    "clinical/registry-sandbox/": (
        "the stand-in state registry: its caller is the outbox's HTTP client, not a form, and "
        "it answers 404 unless IMMUNIZATION_REGISTRY_SANDBOX is on"
    ),
}

ROUTES = [r for r in routes() if r.template not in EXEMPT]


def _url(route: Route) -> str:
    return route.url(**{name: "1" for name, _ in route.params})


def test_the_exempt_routes_are_still_routes() -> None:
    templates = {r.template for r in routes()}
    assert set(EXEMPT) <= templates
    # the login and logout forms are skipped by the route walk; they are checked below
    assert "accounts/login/" in SKIPPED_PREFIXES


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_a_post_without_the_csrf_token_is_refused(chain: Any, route: Route) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(chain.owner)
    jobs = Job.objects.count()
    response = client.post(_url(route), {"name": "x"})
    assert response.status_code == 403, (route, response.status_code, response.content[:300])
    body = response.content.decode()
    assert "CSRF" in body, body[:300]
    assert Job.objects.count() == jobs


def test_the_same_post_with_the_token_gets_past_the_check(chain: Any) -> None:
    """Not vacuous: the refusal above is the missing token, not the route or the user."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(chain.owner)
    page = client.get("/settings/tokens/")
    token = page.cookies["csrftoken"].value if "csrftoken" in page.cookies else None
    token = token or client.cookies["csrftoken"].value
    refused = client.post("/settings/tokens/", {"name": "x"})
    passed = client.post("/settings/tokens/", {"name": "x"}, HTTP_X_CSRFTOKEN=token)
    assert refused.status_code == 403
    assert passed.status_code != 403


def test_the_sign_in_form_needs_the_token_too(chain: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403
