"""Refreshing the rollups: after a run queued by an import that changed one day's claims,
the refresh of only the days that run wrote leaves the same rows as a full refresh."""

from __future__ import annotations

import csv
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection

from claims.services.pms_import import pms_import_path
from dashboards.models import BelowCostDaily, MarginDaily, MarginStoreDaily
from dashboards.services.rollups import JOB_KIND, rollups_refresh
from reconciliation.services.runs import reconcile_now
from rxrevops.models import Job
from rxrevops.services.jobs import job_execute

pytestmark = pytest.mark.django_db

ROLLUPS = (MarginDaily, MarginStoreDaily, BelowCostDaily)


def rollup_rows() -> list[list[tuple[Any, ...]]]:
    """Every row of every rollup table, ids aside."""
    tables = []
    for model in ROLLUPS:
        columns = ", ".join(str(f.column) for f in model._meta.concrete_fields if not f.primary_key)
        with connection.cursor() as cur:
            cur.execute(f"SELECT {columns} FROM {model._meta.db_table} ORDER BY {columns}")  # noqa: S608
            tables.append(cur.fetchall())
    return tables


def _changed_export(world: SimpleNamespace, tmp_path: Path) -> tuple[Path, list[date], Any]:
    """One store's canonical export, only its paid claims of two days weeks apart, each
    collecting one dollar more from the patient."""
    entry = next(
        e
        for e in sorted(world.manifest["files"], key=lambda e: e["path"])
        if e["kind"] == "pms" and e["layout"] == "canonical"
    )
    with (world.root / entry["path"]).open(newline="") as fh:
        reader = csv.DictReader(fh)
        fieldnames = list(reader.fieldnames or [])
        rows = list(reader)
    paid = [r for r in rows if r["transaction_code"] == "B1"]
    days = {_as_date(paid[len(paid) * k // 4]["date_of_service"]) for k in (1, 3)}
    changed = [r for r in paid if _as_date(r["date_of_service"]) in days]
    assert len({r["date_of_service"] for r in changed}) == 2
    for r in changed:
        r["patient_pay_amount"] = str(Decimal(r["patient_pay_amount"] or "0") + 1)
    path = tmp_path / "changed.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(changed)
    location = next(loc for loc in world.locations if loc.ncpdp_id == entry["location"])
    return path, sorted(days), location


def _as_date(text: str) -> date:
    for layout in ("%Y-%m-%d", "%Y%m%d", "%m/%d/%Y"):
        try:
            return datetime.strptime(text, layout).date()
        except ValueError:
            continue
    raise AssertionError(f"unreadable date {text!r}")


def test_refreshing_the_days_a_run_wrote_equals_a_full_refresh(
    margin_world: SimpleNamespace,
    tmp_path: Path,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.ROLLUPS_AFTER_RECONCILE = True
    before = rollup_rows()
    path, days, location = _changed_export(margin_world, tmp_path)

    def revenue() -> list[int]:
        return [
            sum(
                MarginDaily.objects.filter(location=location, day=day).values_list(
                    "revenue_cents", flat=True
                )
            )
            for day in days
        ]

    revenue_before = revenue()
    job = pms_import_path(location=location, path=path)
    assert job.status == Job.Status.SUCCEEDED, job.message
    assert job.counts.get("updated", 0) > 0

    # the run, as a worker runs it: its success is announced once committed
    with django_capture_on_commit_callbacks(execute=False) as announced:
        run = reconcile_now(organization=margin_world.org, as_of=margin_world.as_of)
    assert run.status == Job.Status.SUCCEEDED, run.message
    assert run.counts["incremental"] == 1
    for callback in announced:
        callback()  # the receivers: this queues the refresh (its message is never sent here)
    refresh = Job.objects.get(kind=JOB_KIND, status=Job.Status.QUEUED)
    assert refresh.params == {"runs": [run.pk]}

    job_execute(job_id=refresh.pk)
    refresh.refresh_from_db()
    assert refresh.status == Job.Status.SUCCEEDED, refresh.message
    all_days = MarginDaily.objects.values("day").distinct().count()
    assert 1 <= refresh.counts["days"] < all_days  # only some days were rebuilt
    partial = rollup_rows()
    assert partial[0] != before[0]  # the change reached the rollups ...
    assert partial[1] != before[1]  # (and the per store, day and plan sums)
    assert all(a > b for a, b in zip(revenue(), revenue_before, strict=True))  # ... both days

    rollups_refresh(organization=margin_world.org)
    assert rollup_rows() == partial


def test_a_refresh_of_no_day_changes_nothing_and_a_full_one_is_idempotent(
    margin_world: SimpleNamespace,
) -> None:
    before = rollup_rows()
    assert all(before)  # every rollup table has rows
    assert rollups_refresh(organization=margin_world.org, days=[])["rows"] == 0
    assert rollup_rows() == before
    again = rollups_refresh(organization=margin_world.org)
    assert again["rows"] == len(before[0])
    assert rollup_rows() == before


def test_a_second_run_request_joins_the_waiting_refresh_and_a_full_run_makes_it_full(
    margin_world: SimpleNamespace,
) -> None:
    from dashboards.services.rollups import rollups_request

    incremental = Job.objects.create(
        organization=margin_world.org, kind="reconcile", counts={"incremental": 1}
    )
    other = Job.objects.create(
        organization=margin_world.org, kind="reconcile", counts={"incremental": 1}
    )
    first = rollups_request(organization=margin_world.org, run=incremental)
    second = rollups_request(organization=margin_world.org, run=other)
    assert second.pk == first.pk
    assert Job.objects.get(pk=first.pk).params == {"runs": sorted([incremental.pk, other.pk])}
    full = rollups_request(organization=margin_world.org, run=margin_world.run)
    assert full.pk == first.pk
    assert Job.objects.get(pk=first.pk).params == {"full": True}
