"""The isolation matrix (issues 10 and 11): every route of the URL conf, HTML and API, asked
by every role of one organization and every scope of its API tokens for the ids of another
organization's rows (and a store-scoped user for the ids of a sibling store's rows), answers
404 or 403: never 200, never 500, and a refused write changes nothing.

The routes come from the URL conf itself, so a route added tomorrow is in the matrix without
anyone editing this file. The ids come from the world's tables the same way: the first and
last row of every model that belongs to the foreign store or organization.

Non-vacuity: for every route, the foreign side's own owner reaches at least one of the same
ids (a 200, or for a write anything but 404), so the ids are real rows of the right kind.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from django.test import Client, override_settings

from adherence.models import WorklistItem
from dashboards.views import DIMENSIONS
from tests.support.isolation import (
    SKIPPED_PREFIXES,
    Foreign,
    Principal,
    Route,
    foreign_rows,
    routes,
    rows_fingerprint,
    world_build,
)

# Path parameters that name a fixed vocabulary, not a row: their routes are list pages,
# visited once per value.
NAMED_VALUES: dict[str, list[str]] = {
    "kind": list(WorklistItem.Kind.values),  # /adherence/worklist/<kind>/
    "dimension": list(DIMENSIONS),  # /dashboards/by/<dimension>/
}

ALL_ROUTES = routes()
ID_ROUTES = [r for r in ALL_ROUTES if any(n not in NAMED_VALUES for n, _ in r.params)]
LIST_ROUTES = [r for r in ALL_ROUTES if r not in ID_ROUTES]

# Routes whose ids org B's owner cannot reach with any of B's ids, and why. The matrix still
# asks them as every principal of org A (every answer must be 404/403); it cannot prove the
# ids real for these, so the list is checked exactly: a route leaving or joining it fails.
UNREACHABLE_BY_FOREIGN_OWNER: dict[str, str] = {
    "dashboards/payers/<int:plan_id>/": (
        "a plan (BIN/PCN/group) is shared reference data, not a tenant's row: every "
        "organization's page for it shows only its own claims (checked by "
        "test_the_payer_page_of_a_shared_plan_shows_only_ones_own_claims)"
    ),
}

# ID routes whose rows belong to the organization, not to a store: the location half of the
# matrix (store A1's users against store A2's ids) does not apply to them.
ORGANIZATION_LEVEL: dict[str, str] = {
    "settings/tokens/<int:token_id>/revoke/": "API tokens belong to the organization",
    "settings/tokens/<int:token_id>/webhooks/": "webhook endpoints hang off an org's token",
    "settings/tokens/webhooks/<int:endpoint_id>/delete/": "webhook endpoints: as above",
    "reconciliation/contracts/<int:contract_id>/": "payer contracts are organization-wide",
    "reconciliation/contracts/<int:contract_id>/edit/": "payer contracts: as above",
    "reconciliation/contracts/<int:contract_id>/new-version/": "payer contracts: as above",
    "clinical/contracts/<int:contract_id>/": "value-based contracts are organization-wide",
    "dashboards/payers/<int:plan_id>/": "plans are shared reference data",
}

REFUSED = (403, 404)
# The principal that asks for every candidate id, not only the ones of the route's kind: per
# half of the matrix, one for the HTML routes and one for the API routes.
BROAD = {
    ("org", False): "A owner",
    ("org", True): "A token all scopes",
    ("store", False): "A1 pharmacist",
    ("store", True): "A1 token all scopes",
}
WRITE_METHODS_STATUS = 405


@pytest.fixture(scope="module")
def world(django_db_setup: Any, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    """Built once for the module inside a transaction rolled back at the end, so the rest of
    the session never sees it. Each test runs in a savepoint of its own on top."""
    quiet = logging.getLogger("django.request")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # thousands of 404 warnings are the expected answer
    with django_db_blocker.unblock(), override_settings(API_RATE_LIMIT="1000000/minute"):
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            w = world_build()
            w["b"] = foreign_rows(label="org B", organization=w["org_b"])
            w["a2"] = foreign_rows(label="store A2", location=w["a2_location"])
            w["clients"] = {p.label: _client(p) for p in w["principals"]}
            w["owner_b_client"] = _client(Principal("B owner", w["owner_b"]))
            w["owner_a_client"] = _client(Principal("A owner (all stores)", w["owner_a"]))
            yield w
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            quiet.setLevel(level)


def _client(p: Principal) -> Client:
    if p.is_token:
        return Client(HTTP_AUTHORIZATION=f"Token {p.token_key}")
    client = Client()
    client.force_login(p.user)
    return client


def _ask(client: Client, method: str, url: str) -> tuple[int, bytes]:
    """The status and body, a crash reported as 500 with its exception."""
    try:
        response = client.get(url) if method == "GET" else client.post(url, {})
    except Exception as exc:  # a crash is a finding, reported with the route
        return 500, f"{type(exc).__name__}: {exc}".encode()
    body = b"" if getattr(response, "streaming", False) else response.content
    return response.status_code, body


def _principals(
    world: dict[str, Any], route: Route, *, store_scoped: bool = False
) -> list[Principal]:
    """Sessions ask every route; API tokens ask the API routes (HTML views take sessions)."""
    out = [p for p in world["principals"] if route.is_api or not p.is_token]
    if store_scoped:
        out = [p for p in out if p.label.startswith("A1 ")]
    return out


def _method(client: Client, route: Route, foreign: Foreign) -> str:
    """GET, or POST for a route that answers GET with 405."""
    status, _ = _ask(client, "GET", _fill(route, foreign, foreign.ids[0]))
    return "POST" if status == WRITE_METHODS_STATUS else "GET"


def _fill(route: Route, foreign: Foreign, value: int | str) -> str:
    values: dict[str, Any] = {}
    for name, _converter in route.params:
        values[name] = NAMED_VALUES[name][0] if name in NAMED_VALUES else value
    return route.url(**values)


def _candidates(route: Route, foreign: Foreign) -> tuple[int | str, ...]:
    if route.int_params:
        return foreign.ids
    return foreign.strings


def _reached(client: Client, method: str, route: Route, foreign: Foreign) -> list[int | str]:
    """The candidates the foreign side's owner reaches: 200 for a read; for a write, any
    answer but 404 (the row was found), in a savepoint rolled back so nothing stays."""
    hits: list[int | str] = []
    for value in _candidates(route, foreign):
        with transaction.atomic():
            status, _ = _ask(client, method, _fill(route, foreign, value))
            transaction.set_rollback(True)
        if (method == "GET" and status == 200) or (method != "GET" and status != 404):
            hits.append(value)
    return hits


def _refusals(
    world: dict[str, Any],
    route: Route,
    foreign: Foreign,
    method: str,
    principals: list[Principal],
    hits: list[int | str],
    half: str,
) -> list[str]:
    """Every principal asks for the ids the foreign owner reached (the real rows of the kind
    the route names); the broadest principals ask for every candidate as well. Each kind's
    ids lie in a sub-range of their own (see tests.support.isolation.sequences_jump), so a
    candidate of another kind names no row of the route's kind at all: asking it as everyone
    would test "missing", not "foreign". With no hit, everyone asks for every candidate."""
    every = _candidates(route, foreign)
    failures = []
    for p in principals:
        client = world["clients"][p.label]
        values = every if (not hits or p.label == BROAD[half, route.is_api]) else hits
        for value in values:
            status, body = _ask(client, method, _fill(route, foreign, value))
            if status not in REFUSED:
                kind = foreign.kinds.get(value, "NCPDP") if isinstance(value, int) else "text"
                failures.append(
                    f"{method} {_fill(route, foreign, value)} as {p.label}: {status} "
                    f"({foreign.label} {kind} {value}) {body[:160]!r}"
                )
    return failures


def _id(route: Route) -> str:
    return str(route)


def test_the_matrix_holds_every_route_but_the_skipped_ones() -> None:
    templates = {r.template for r in ALL_ROUTES}
    # a few of each app, to prove the walk goes into every include
    for expected in [
        "patients/<int:patient_id>/",
        "api/v1/patients/<int:pk>/",
        "reconciliation/workbench/claims/<int:fill_id>/case/",
        "clinical/encounters/<int:encounter_id>/take-away.pdf",
        "adherence/items/<int:item_id>/outreach/",
        "dashboards/locations/<int:location_id>/",
        "api/v1/hl7/",
        "settings/tokens/<int:token_id>/webhooks/",
    ]:
        assert expected in templates
    assert not any(t.startswith(tuple(SKIPPED_PREFIXES)) for t in templates)
    converters = {c for r in ALL_ROUTES for _, c in r.params}
    assert converters <= {"int", "str"}, f"teach the matrix a value for {converters}"
    assert set(UNREACHABLE_BY_FOREIGN_OWNER) <= {r.template for r in ID_ROUTES}
    assert set(ORGANIZATION_LEVEL) <= {r.template for r in ID_ROUTES}


@pytest.mark.parametrize("route", ID_ROUTES, ids=_id)
def test_another_organizations_ids_are_refused(
    world: dict[str, Any], route: Route, db: Any
) -> None:
    foreign: Foreign = world["b"]
    owner_b = world["owner_b_client"]
    method = _method(owner_b, route, foreign)
    hits = _reached(owner_b, method, route, foreign)
    if route.template in UNREACHABLE_BY_FOREIGN_OWNER:
        assert not hits, f"{route} is reachable now: take it off UNREACHABLE_BY_FOREIGN_OWNER"
    else:
        assert hits, f"org B's owner reaches none of B's ids at {route} {method}: " + (
            "stock the world with its kind, or list it with a reason"
        )
    before = rows_fingerprint(organization=world["org_b"]) if method != "GET" else None
    failures = _refusals(world, route, foreign, method, _principals(world, route), hits, "org")
    assert not failures, "\n".join(failures)
    if before is not None:
        assert rows_fingerprint(organization=world["org_b"]) == before


@pytest.mark.parametrize("route", ID_ROUTES, ids=_id)
def test_a_sibling_stores_ids_are_refused_to_a_store_scoped_user(
    world: dict[str, Any], route: Route, db: Any
) -> None:
    if route.template in ORGANIZATION_LEVEL:
        pytest.skip(ORGANIZATION_LEVEL[route.template])
    foreign: Foreign = world["a2"]
    owner_a = world["owner_a_client"]
    method = _method(owner_a, route, foreign)
    hits = _reached(owner_a, method, route, foreign)
    assert hits, f"org A's owner reaches none of store A2's ids at {route} {method}"
    before = rows_fingerprint(location=world["a2_location"]) if method != "GET" else None
    failures = _refusals(
        world, route, foreign, method, _principals(world, route, store_scoped=True), hits, "store"
    )
    assert not failures, "\n".join(failures)
    if before is not None:
        assert rows_fingerprint(location=world["a2_location"]) == before
