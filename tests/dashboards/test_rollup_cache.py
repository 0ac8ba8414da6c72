"""The dashboards keep the rollups' answers until the rollups change (`dashboards.
rollup_cache`): a second look reads no rollup table; a refresh, and only a refresh, brings
new figures; people with different stores never share an answer; a lost generation or an
unreachable cache never brings back an old answer."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboards.models import MarginDaily
from dashboards.overview import overview_for_user
from dashboards.periods import Period
from dashboards.rollup_cache import _generation_key
from dashboards.selectors import margin_for_user, margin_trend_for_user
from dashboards.services.rollups import rollups_refresh
from rxrevops.models import Role
from rxrevops.templatetags.money import cents
from tests.factories import LocationFactory, OrganizationFactory, member
from tests.support.rollups import rollup

pytestmark = pytest.mark.django_db

START, END = date(2026, 3, 1), date(2026, 3, 31)
QUERY = "period=custom&since=2026-03-01&until=2026-03-31"
ROLLUP_TABLES = ("dashboards_margindaily", "dashboards_marginstoredaily")


def _net(user: Any) -> int:
    return margin_for_user(user, group_by="location", start=START, end=END).totals.net_margin_cents


def _rollup_reads(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if any(t in q["sql"] for t in ROLLUP_TABLES)]


@pytest.fixture
def chain() -> Any:
    org = OrganizationFactory.create(name="Prairie Drug")
    north = LocationFactory.create(organization=org, name="North")
    south = LocationFactory.create(organization=org, name="South")
    rollup(north, claims=100, net=50_000)
    rollup(south, claims=50, net=7_000)
    return org, north, south


def test_a_second_look_reads_no_rollup_and_only_a_refresh_changes_the_figures(
    chain: Any, django_capture_on_commit_callbacks: Any
) -> None:
    org, north, _ = chain
    owner = member(organization=org, role=Role.OWNER)
    with CaptureQueriesContext(connection) as first:
        assert _net(owner) == 57_000
    assert _rollup_reads(first)
    with CaptureQueriesContext(connection) as second:
        assert _net(owner) == 57_000
    assert _rollup_reads(second) == []

    # rollup rows have one writer, the refresh: a row written past it is not seen ...
    rollup(north, claims=1, net=1_000, day=date(2026, 3, 11))
    assert _net(owner) == 57_000
    # ... and the refresh (here: no reconciled claims, so no rows) is seen at once
    with django_capture_on_commit_callbacks(execute=True):
        rollups_refresh(organization=org)
    assert _net(owner) == 0


def test_people_with_other_stores_never_share_an_answer(chain: Any, login: Any) -> None:
    org, north, south = chain
    owner = member(organization=org, role=Role.OWNER)
    north_only = member(organization=org, role=Role.OWNER, locations=[north])
    south_only = member(organization=org, role=Role.OWNER, locations=[south])
    assert _net(owner) == 57_000  # kept first, for the whole chain
    assert _net(north_only) == 50_000
    assert _net(south_only) == 7_000
    trend = margin_trend_for_user(south_only, start=START, end=END, grain="day")
    assert [(p.location, p.net_margin_cents) for p in trend] == [("South", 7_000)]

    login(owner).get(f"/dashboards/?{QUERY}")  # the page's answers kept for the owner
    html = login(south_only).get(f"/dashboards/?{QUERY}").content.decode()
    assert "South" in html
    assert "North" not in html
    assert cents(57_000) not in html


def test_a_lost_generation_never_brings_back_an_old_answer(chain: Any) -> None:
    from django.core.cache import cache

    org, north, _ = chain
    owner = member(organization=org, role=Role.OWNER)
    assert _net(owner) == 57_000
    rollup(north, claims=1, net=1_000, day=date(2026, 3, 12))
    cache.delete(_generation_key(org.pk))  # Redis restarted, or the key evicted
    assert _net(owner) == 58_000


def test_no_cache_reachable_or_none_wanted_reads_postgres(chain: Any, settings: Any) -> None:
    org, north, _ = chain
    owner = member(organization=org, role=Role.OWNER)
    assert _net(owner) == 57_000
    rollup(north, claims=1, net=1_000, day=date(2026, 3, 13))

    settings.DASHBOARD_CACHE_SECONDS = 0
    assert _net(owner) == 58_000

    settings.DASHBOARD_CACHE_SECONDS = 3600
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    rollup(north, claims=1, net=2_000, day=date(2026, 3, 14))
    assert _net(owner) == 60_000


def test_a_refresh_inside_a_rolled_back_transaction_keeps_the_answers(chain: Any) -> None:
    """The generation moves on commit only: a refresh that rolls back changed nothing."""
    from django.core.cache import cache
    from django.db import transaction

    org, _, _ = chain
    owner = member(organization=org, role=Role.OWNER)
    assert _net(owner) == 57_000
    before = cache.get(_generation_key(org.pk))

    class Abort(Exception):
        pass

    def refresh_then_abort() -> None:
        with transaction.atomic():
            rollups_refresh(organization=org)
            raise Abort

    with pytest.raises(Abort):
        refresh_then_abort()
    assert cache.get(_generation_key(org.pk)) == before
    assert _net(owner) == 57_000
    assert MarginDaily.objects.filter(organization=org).count() == 2  # the fixture's rows


def test_the_overviews_adherence_figures_are_kept_until_a_worklist_build(
    chain: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from adherence.models import MeasureRate
    from adherence.selectors import adherence_health_for_user
    from adherence.services.build import worklists_build

    org, north, south = chain
    owner = member(organization=org, role=Role.OWNER)
    for store, measured, adherent in ((north, 40, 30), (south, 10, 9)):
        MeasureRate.objects.create(
            organization=org, location=store, year=2026, measure="PDC-STA",
            as_of=date(2026, 2, 28), measured=measured, adherent=adherent,
        )  # fmt: skip

    def statin(user: Any) -> tuple[int, int] | None:
        with CaptureQueriesContext(connection) as queries:
            health = overview_for_user(user, period=Period("custom", START, END)).adherence
        sql = [q["sql"] for q in queries.captured_queries]
        reads.append([q for q in sql if "adherence_measure" in q])
        return next(((m.measured, m.adherent) for m in health.measures), None)

    reads: list[list[str]] = []
    assert statin(owner) == (50, 39)
    assert statin(owner) == (50, 39)
    assert reads[0]
    assert reads[1] == []  # the second look reads neither rates nor results
    # someone with one store is answered for that store, never from the chain's answer
    assert statin(member(organization=org, role=Role.OWNER, locations=[south])) == (10, 9)
    # the live selector, called without the dashboards' keeping, is not affected
    assert adherence_health_for_user(owner, on=END).measures[0].measured == 50

    # rates have one writer, the build: a row written past it is not seen ...
    MeasureRate.objects.filter(location=north).update(measured=41)
    assert statin(owner) == (50, 39)
    # ... and a build (here: no fills, so no rates) is seen as soon as it commits
    with django_capture_on_commit_callbacks(execute=True):
        worklists_build(organization=org, as_of=END)
    assert statin(owner) is None
