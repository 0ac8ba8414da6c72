"""The isolation matrix (issues 10 and 11): every route of the URL conf, HTML and API, asked
by every role of one organization and every scope of its API tokens for the ids of another
organization's rows (and a store-scoped user for the ids of a sibling store's rows), answers
404 or 403: never 200, never 500, and a refused write changes nothing. The refusal is the
answer an id of no row gets, word for word, so ids cannot be enumerated across organizations.

The routes come from the URL conf itself, so a route added tomorrow is in the matrix without
anyone editing this file. The ids come from the world's tables the same way: the first and
last row of every model that belongs to the foreign store or organization.

Non-vacuity: for every route, the foreign side's own owner reaches at least one of the same
ids (a 200, or for a write anything but 404), so the ids are real rows of the right kind.
"""

from __future__ import annotations

import itertools
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
    sequences_restore,
    sequences_state,
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

# Routes that crash (500) for the foreign organization's own owner on one of its own rows:
# not a leak, but a bug the matrix found; each is checked to still crash, so fixing it fails
# here until the entry is removed. The refusals for these routes are still checked first.
KNOWN_CRASHES: dict[str, str] = {}

REFUSED = (403, 404)
WRITE_METHODS_STATUS = 405


@pytest.fixture(scope="module")
def world(django_db_setup: Any, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    """Built once for the module inside a transaction rolled back at the end, so the rest of
    the session never sees it. Each test runs in a savepoint of its own on top."""
    quiet = logging.getLogger("django.request")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # thousands of 404 warnings are the expected answer
    with django_db_blocker.unblock(), override_settings(API_RATE_LIMIT="1000000/second"):
        sequences = sequences_state()
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
            sequences_restore(sequences)
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


def _reached(
    client: Client, method: str, route: Route, foreign: Foreign
) -> tuple[list[int | str], list[str]]:
    """The candidates the foreign side's owner reaches: 200 for a read; for a write, an
    answer that shows the row was found, in a savepoint rolled back so nothing stays. And the
    candidates that crashed the route."""
    hits: list[int | str] = []
    crashes: list[str] = []
    for value in _candidates(route, foreign):
        if method == "GET":
            status, body = _ask(client, method, _fill(route, foreign, value))
        else:
            with transaction.atomic():
                status, body = _ask(client, method, _fill(route, foreign, value))
                transaction.set_rollback(True)
        # a write that found its row answers 2xx/3xx, or 400/409 on the empty form; a 403
        # (a role or CSRF refusal) would prove nothing about the id
        found = status < 500 and status not in (*REFUSED, WRITE_METHODS_STATUS)
        if (method == "GET" and status == 200) or (method != "GET" and found):
            hits.append(value)
        if status >= 500:
            crashes.append(f"{method} {_fill(route, foreign, value)}: {status} {body[:300]!r}")
    return hits, crashes


def _probes(route: Route, foreign: Foreign, hits: list[int | str]) -> tuple[int | str, ...]:
    """What every principal asks for: the candidates of the kinds the foreign owner reached
    (the rows the route names). A candidate of any other kind is the id of no row of the
    route's kind at all (each candidate is the only row in the database with its id, see
    tests.support.isolation), so it would test "missing", not "foreign"; the foreign owner's
    own scan has asked every candidate already. With no hit, every candidate."""
    every = _candidates(route, foreign)
    if not hits:
        return every
    kinds = {foreign.kinds.get(v) for v in hits if isinstance(v, int)}
    if not kinds - {None}:
        return tuple(hits)
    return tuple(v for v in every if isinstance(v, int) and foreign.kinds[v] in kinds)


def _refusals(
    world: dict[str, Any],
    route: Route,
    foreign: Foreign,
    method: str,
    principals: list[Principal],
    hits: list[int | str],
) -> list[str]:
    failures = []
    probes = _probes(route, foreign, hits)
    for p in principals:
        client = world["clients"][p.label]
        for value in probes:
            status, body = _ask(client, method, _fill(route, foreign, value))
            if status not in REFUSED:
                kind = foreign.kinds.get(value, "NCPDP") if isinstance(value, int) else "text"
                failures.append(
                    f"{method} {_fill(route, foreign, value)} as {p.label}: {status} "
                    f"({foreign.label} {kind} {value}) {body[:160]!r}"
                )
        failures += _indistinguishable(client, p, route, foreign, method, probes[0])
    return failures


MISSING_INT = 2_000_000_000  # the id of no row: far above any sequence of the test world
MISSING_TEXT = "9999999"  # an NCPDP ID no store has


def _indistinguishable(
    client: Client,
    p: Principal,
    route: Route,
    foreign: Foreign,
    method: str,
    value: int | str,
) -> list[str]:
    """Ids cannot be enumerated across organizations: a foreign row's id gets the answer an
    id of no row at all gets (same status, same body but for the id itself), so walking the
    ids tells an outsider nothing about which exist."""
    missing: int | str = MISSING_INT if isinstance(value, int) else MISSING_TEXT
    answers = []
    for v in (value, missing):
        with transaction.atomic():
            status, body = _ask(client, method, _fill(route, foreign, v))
            transaction.set_rollback(True)
        answers.append((status, body.replace(str(v).encode(), b"<id>")))
    if answers[0] == answers[1]:
        return []
    return [
        f"{method} {_fill(route, foreign, value)} as {p.label}: {answers[0][0]} for "
        f"{foreign.label}'s row, {answers[1][0]} for no row at all: the answers tell them "
        f"apart ({answers[0][1][:120]!r} / {answers[1][1][:120]!r})"
    ]


def _crashes_known(route: Route, crashes: list[str]) -> None:
    """A crash fails the test, unless listed in KNOWN_CRASHES: then it is an expected
    failure, and one that no longer happens fails (so the list shrinks with the fixes)."""
    reason = KNOWN_CRASHES.get(route.template)
    if reason is None:
        assert not crashes, "\n".join(crashes)
    elif crashes:
        pytest.xfail(f"{reason}: {crashes[0]}")


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
    hits, crashes = _reached(owner_b, method, route, foreign)
    if route.template in UNREACHABLE_BY_FOREIGN_OWNER:
        assert not hits, f"{route} is reachable now: take it off UNREACHABLE_BY_FOREIGN_OWNER"
    else:
        assert hits, f"org B's owner reaches none of B's ids at {route} {method}: " + (
            "stock the world with its kind, or list it with a reason"
        )
    before = rows_fingerprint(organization=world["org_b"]) if method != "GET" else None
    failures = _refusals(world, route, foreign, method, _principals(world, route), hits)
    assert not failures, "\n".join(failures)
    if before is not None:
        assert rows_fingerprint(organization=world["org_b"]) == before
    _crashes_known(route, crashes)


@pytest.mark.parametrize("route", ID_ROUTES, ids=_id)
def test_a_sibling_stores_ids_are_refused_to_a_store_scoped_user(
    world: dict[str, Any], route: Route, db: Any
) -> None:
    if route.template in ORGANIZATION_LEVEL:
        pytest.skip(ORGANIZATION_LEVEL[route.template])
    foreign: Foreign = world["a2"]
    owner_a = world["owner_a_client"]
    method = _method(owner_a, route, foreign)
    hits, crashes = _reached(owner_a, method, route, foreign)
    assert hits, f"org A's owner reaches none of store A2's ids at {route} {method}"
    before = rows_fingerprint(location=world["a2_location"]) if method != "GET" else None
    failures = _refusals(
        world, route, foreign, method, _principals(world, route, store_scoped=True), hits
    )
    assert not failures, "\n".join(failures)
    if before is not None:
        assert rows_fingerprint(location=world["a2_location"]) == before
    _crashes_known(route, crashes)


def _list_urls(route: Route) -> list[str]:
    names = [n for n, _ in route.params]
    combos = itertools.product(*(NAMED_VALUES[n] for n in names))
    return [route.url(**dict(zip(names, combo, strict=True))) for combo in combos]


def _markers(world: dict[str, Any], *, store_scoped: bool) -> list[bytes]:
    """Words only a foreign row carries: org B's name, store and patient names, NCPDP ID;
    for a user of store A1, store A2's as well."""
    out = [b"zebra", world["b1"].ncpdp_id.encode()]
    if store_scoped:
        out += [b"aspen", world["a2_location"].ncpdp_id.encode()]
    return out


@pytest.mark.parametrize("route", LIST_ROUTES, ids=_id)
def test_list_pages_and_exports_show_nothing_of_another_organization_or_store(
    world: dict[str, Any], route: Route, db: Any
) -> None:
    """Every page without an id, plain, filtered to a foreign store, and as an export:
    never a 500, never a foreign store's name, NCPDP ID or patient."""
    b1, a2 = world["b1"], world["a2_location"]
    failures = []
    for p in _principals(world, route):
        store_scoped = p.label.startswith("A1 ")
        markers = _markers(world, store_scoped=store_scoped)
        queries = ["", f"?location={b1.pk}"]
        if not route.is_api:
            queries.append("?export=csv")  # the HTML pages' CSV/XLSX exports
        if store_scoped:
            queries.append(f"?location={a2.pk}")
        for url in _list_urls(route):
            for query in queries:
                status, body = _ask(world["clients"][p.label], "GET", url + query)
                if status == WRITE_METHODS_STATUS:
                    break  # a write-only route: its body names the rows, not its URL
                lowered = body.lower()
                leaked = [m.decode() for m in markers if m in lowered]
                if status >= 500 or leaked:
                    failures.append(f"GET {url}{query} as {p.label}: {status}, shows {leaked}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("path", ["/patients/", "/api/v1/patients/", "/adherence/"])
def test_the_foreign_markers_do_show_to_their_own_owner(
    world: dict[str, Any], path: str, db: Any
) -> None:
    """The list check is not vacuous: the words it looks for are on the pages of the
    organization that owns them."""
    status, body = _ask(world["owner_b_client"], "GET", path)
    assert status == 200
    assert b"zebra" in body.lower()


def test_the_payer_page_of_a_shared_plan_shows_only_ones_own_claims(
    world: dict[str, Any], db: Any
) -> None:
    """A plan is shared reference data (org B's claims and org A's both name Acme): org A's
    page for it must not carry org B's stores."""
    url = f"/dashboards/payers/{world['acme'].pk}/"
    status, _ = _ask(world["owner_b_client"], "GET", url)
    assert status == 200
    for p in _principals(world, Route("dashboards/payers/<int:plan_id>/", "", ())):
        status, body = _ask(world["clients"][p.label], "GET", url)
        markers = _markers(world, store_scoped=p.label.startswith("A1 "))
        assert status in (200, *REFUSED), (p.label, status)
        assert not [m for m in markers if m in body.lower()], p.label
