"""Answers of the margin rollups, kept in the cache until the rollups change.

The rollups (`MarginDaily`, `MarginStoreDaily`, `BelowCostDaily`) are written by one thing
only, `rollups_refresh`, after a reconciliation run or the nightly beat. Between two refreshes
the same dashboard question gets the same rows, so its rows are kept: owners opening the
overview each morning, flipping between periods and stores, are answered from memory instead
of summing a million claims' days again.

What is kept is the rows of one SQL statement, keyed by the statement and its parameters (the
principal's stores are in it: `for_user` puts their ids in the WHERE clause, so two people
with different stores never share an answer) and by the rollup generation of every
organization the principal reaches. `rollups_refresh` moves its organization's generation on
once its rows are committed: every answer read before is never looked up again. A generation
that is missing (Redis restarted, key evicted) starts from a fresh random value, so an answer
kept under an earlier one cannot come back. Labels (store names, plans, drugs) are not kept:
they are read live by the selectors.

The overview's adherence figures that only a worklist build changes (each measure's latest
rates, the patients measured this year) are kept the same way: the build's
`measures_rebuilt` signal moves the generation on too (`dashboards.signals`).

Nothing here is needed for correctness: with the cache unreachable the rows are read from
Postgres, as with `DASHBOARD_CACHE_SECONDS = 0`.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from rxrevops.access import Principal, organization_ids_for_user

log = logging.getLogger(__name__)

_PREFIX = "dash:rollups"


def _database() -> str:
    # two databases on one Redis (a benchmark's beside the product's) never share an answer
    return str(settings.DATABASES["default"]["NAME"])


def _generation_key(organization_id: int) -> str:
    return f"{_PREFIX}:{_database()}:gen:{organization_id}"


def _generations(organization_ids: Iterable[int]) -> list[tuple[int, int]]:
    """(organization id, generation) for each, a missing one started at a random value."""
    keys = {org: _generation_key(org) for org in sorted(organization_ids)}
    found = cache.get_many(list(keys.values()))
    out = []
    for org, key in keys.items():
        value = found.get(key)
        if value is None:
            cache.add(key, secrets.randbits(62), timeout=None)  # another reader may win
            value = cache.get(key)
        out.append((org, int(value)))
    return out


def rollup_generation_advance(organization_id: int) -> None:
    """The organization's rollups changed: no answer read before is used again. Runs once
    the caller's transaction commits (at once outside one)."""

    def advance() -> None:
        key = _generation_key(organization_id)
        try:
            cache.set(key, secrets.randbits(62), timeout=None)
        except Exception as exc:  # the next refresh, or the answers' own expiry, catches up
            log.warning("dashboard cache: generation of org %s not advanced: %s",
                        organization_id, type(exc).__name__)  # fmt: skip

    transaction.on_commit(advance)


def rollup_rows(qs: Any, *, user: Principal) -> list[Any]:
    """`list(qs)` for a queryset over the principal's rollup rows, from the cache when the
    same statement was answered since the rollups last changed."""
    seconds = int(settings.DASHBOARD_CACHE_SECONDS)
    if seconds <= 0:
        return list(qs)
    sql, params = qs.query.sql_with_params()
    try:
        generations = _generations(organization_ids_for_user(user))
        digest = hashlib.sha256(repr((sql, params, generations)).encode()).hexdigest()
        key = f"{_PREFIX}:{_database()}:rows:{digest}"
        kept = cache.get(key)
    except Exception as exc:
        log.warning("dashboard cache unreachable (%s): reading the rollups", type(exc).__name__)
        return list(qs)
    if kept is not None:
        return list(kept)
    rows = list(qs)
    try:
        cache.set(key, rows, timeout=seconds)
    except Exception as exc:
        log.warning("dashboard cache: answer not kept: %s", type(exc).__name__)
    return rows
