"""Incremental reconciliation runs give the same rows as a full rebuild.

The four-month world arrives as a chain would send it: month by month, each month's PMS
exports, 835s, fee statements and invoices, with a run after each month (as of its last
day). Every run after the first is incremental; after the last, the derived rows are compared
(ids, the writing job and time aside) with a full rebuild on the same facts."""

from __future__ import annotations

import json
import re
from calendar import monthrange
from dataclasses import asdict
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection

from claims.models import Fill
from claims.services.pms_import import pms_import_path
from demo.world.catalog import PAYERS
from reconciliation.services.contracts import demo_payer_contracts_create
from reconciliation.services.cost_import import acquisition_import_path, nadac_import_path
from reconciliation.services.fee_import import fee_import_path
from reconciliation.services.remit_import import remit_import_path
from reconciliation.services.runs import reconcile_now
from rxrevops.models import Job

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

_MONTH = re.compile(r"2026-?(\d{2})")

_TABLES = {
    "claimresult": (
        "fill_id, location_id, date_of_service, status, matched_by, payments, expected_cents, "
        "remitted_cents, recouped_cents, dir_cents, variance_cents, fees_actual_cents, "
        "fees_estimated_cents, acquisition_cents, acquisition_source, net_margin_cents, due_on, "
        "age_bucket, below_cost, reasons::text"
    ),
    "paymentmatch": "payment_id, fill_id, how",
    "unmatchedpayment": "payment_id, location_id, paid_cents, reason",
    "plballocation": "adjustment_id, fill_id, amount_cents, allocated",
}


def derived_rows() -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    with connection.cursor() as cur:
        for table, columns in _TABLES.items():
            cur.execute(f"SELECT {columns} FROM reconciliation_{table} ORDER BY 1, 2")  # noqa: S608
            out[table] = cur.fetchall()
    return out


def _import(stores: SimpleNamespace, root: Path, entry: dict[str, Any]) -> None:
    by_ncpdp = {loc.ncpdp_id: loc for loc in stores.locations}
    path = root / entry["path"]
    kind = entry["kind"]
    if kind == "pms" and entry["layout"] == "canonical":
        job = pms_import_path(location=by_ncpdp[entry["location"]], path=path)
    elif kind == "remit_835":
        job = remit_import_path(organization=stores.org, path=path)
    elif kind == "fee_statement":
        job = fee_import_path(organization=stores.org, path=path)
    elif kind == "acquisition":
        job = acquisition_import_path(location=by_ncpdp[entry["location"]], path=path)
    else:
        return
    assert job.status == Job.Status.SUCCEEDED, job.message


def test_month_by_month_incremental_runs_equal_a_full_rebuild(
    stores: SimpleNamespace, fee_world: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconciliation.services import runs as service

    monkeypatch.setattr(service, "FULL_ABOVE_SHARE", 2.0)
    manifest = json.loads((fee_world / "manifest.json").read_text())
    demo_payer_contracts_create(
        stores.org, [asdict(p) for p in PAYERS], effective_from=date(2026, 1, 1)
    )
    nadac = next(e for e in manifest["files"] if e["kind"] == "nadac")
    assert nadac_import_path(organization=stores.org, path=fee_world / nadac["path"]).status == (
        Job.Status.SUCCEEDED
    )
    by_month: dict[int, list[dict[str, Any]]] = {}
    for e in manifest["files"]:
        m = _MONTH.search(Path(e["path"]).name)
        if m and e["kind"] in ("pms", "remit_835", "fee_statement", "acquisition"):
            by_month.setdefault(int(m.group(1)), []).append(e)
    assert sorted(by_month) == [1, 2, 3, 4]
    runs = []
    for month in sorted(by_month):
        for e in sorted(by_month[month], key=lambda e: (e["kind"] != "pms", e["path"])):
            _import(stores, fee_world, e)
        as_of = date(2026, month, monthrange(2026, month)[1])
        job = reconcile_now(organization=stores.org, as_of=as_of)
        assert job.status == Job.Status.SUCCEEDED, job.message
        runs.append(job.counts)
    # the first run builds everything; every later one goes the incremental way (a month
    # and its passing touch most of this small world's claims, which a real run would
    # rebuild in full: FULL_ABOVE_SHARE is lifted to test the incremental path)
    assert runs[0]["incremental"] == 0
    claims = Fill.objects.count()
    for counts in runs[1:]:
        assert counts["incremental"] == 1, counts
        assert 0 < counts["rebuilt"] <= counts["claims"]
    assert runs[-1]["rebuilt"] < runs[-1]["claims"]
    assert runs[-1]["claims"] == claims

    incremental = derived_rows()
    full = reconcile_now(organization=stores.org, as_of=date(2026, 4, 30), full=True)
    assert full.counts["incremental"] == 0
    rebuilt = derived_rows()
    for table in _TABLES:
        assert incremental[table] == rebuilt[table], table
    assert len(rebuilt["claimresult"]) == claims
    assert len(rebuilt["paymentmatch"]) > 1000
    # that full run wrote over the incremental rows; one into empty tables gives the same
    _clear_derived_rows()
    reconcile_now(organization=stores.org, as_of=date(2026, 4, 30), full=True)
    assert derived_rows() == rebuilt


def _import_january_and_february(stores: SimpleNamespace, fee_world: Path) -> None:
    manifest = json.loads((fee_world / "manifest.json").read_text())
    for e in manifest["files"]:
        if Path(e["path"]).name.endswith(("2026-01.csv", "2026-02.csv")):
            _import(stores, fee_world, e)


def _clear_derived_rows() -> None:
    with connection.cursor() as cur:
        for table in _TABLES:
            cur.execute(f"DELETE FROM reconciliation_{table}")  # noqa: S608


def _ids() -> dict[int, int]:
    with connection.cursor() as cur:
        cur.execute("SELECT fill_id, id FROM reconciliation_claimresult")
        return dict(cur.fetchall())


def test_a_full_rebuild_over_earlier_results_rewrites_only_the_rows_that_changed(
    stores: SimpleNamespace, fee_world: Path
) -> None:
    _import_january_and_february(stores, fee_world)
    reconcile_now(organization=stores.org, as_of=date(2026, 2, 28), full=True)
    before, ids_before = derived_rows(), _ids()
    # a month later: unpaid claims age and fall due, everything else stays as it was
    later = reconcile_now(organization=stores.org, as_of=date(2026, 3, 31), full=True)
    assert later.counts["incremental"] == 0
    after, ids_after = derived_rows(), _ids()
    changed = set(before["claimresult"]) - set(after["claimresult"])
    assert 0 < len(changed) < len(before["claimresult"])
    rewritten = {f for f, pk in ids_after.items() if ids_before.get(f) != pk}
    assert rewritten == {row[0] for row in changed}
    assert after["paymentmatch"] == before["paymentmatch"]
    # and the rows are those a run into empty tables writes
    _clear_derived_rows()
    reconcile_now(organization=stores.org, as_of=date(2026, 3, 31), full=True)
    assert derived_rows() == after


def test_a_run_with_nothing_new_rebuilds_nothing_and_since_rebuilds_from_that_day(
    stores: SimpleNamespace, fee_world: Path
) -> None:
    _import_january_and_february(stores, fee_world)
    first = reconcile_now(organization=stores.org, as_of=date(2026, 2, 28))
    before = derived_rows()
    again = reconcile_now(organization=stores.org, as_of=date(2026, 2, 28))
    assert (again.counts["incremental"], again.counts["rebuilt"]) == (1, 0)
    assert derived_rows() == before
    since = reconcile_now(organization=stores.org, as_of=date(2026, 2, 28), since=date(2026, 2, 20))
    late_february = Fill.objects.filter(date_of_service__gte=date(2026, 2, 20)).count()
    assert since.counts["incremental"] == 1
    assert late_february <= since.counts["rebuilt"] < first.counts["claims"]
    assert derived_rows() == before
