"""The push service: fills pushed one by one or in bulk go through the file import's own
normalization and upsert, answer per item, and quarantine what they cannot load."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.cache import cache as shared_cache

from claims.models import Fill
from claims.services import fill_push
from claims.services.fill_push import push_fills
from claims.services.pms_import import pms_import_path
from rxrevops.models import Job, QuarantinedRow
from tests.claims.test_pms_import import write_csv
from tests.support.pms_fixtures import pms_file

JAN = "2026-01"
FILL_FIELDS = [
    "rx_number",
    "fill_number",
    "date_of_service",
    "transaction_code",
    "transaction_date",
    "status",
    "prescription__rx_number",
    "prescription__prescriber__npi",
    "prescription__drug__ndc",
    "patient__pms_patient_id",
    "patient__first_name",
    "patient__last_name",
    "patient__date_of_birth",
    "patient__phone",
    "patient__sex",
    "patient__postal_code",
    "patient__med_sync_enrolled",
    "patient__med_sync_day",
    "drug__ndc",
    "plan__bin",
    "plan__pcn",
    "plan__group",
    "quantity",
    "days_supply",
    "daw_code",
    "cardholder_id",
    "usual_customary_cents",
    "ingredient_cost_paid_cents",
    "dispensing_fee_paid_cents",
    "patient_pay_cents",
    "total_paid_cents",
    "acquisition_cost_cents",
    "basis_of_reimbursement",
    "authorization_number",
    "row_hash",
]


def jan_rows(stores: SimpleNamespace, manifest: dict[str, Any], root: Path) -> list[dict[str, str]]:
    path = pms_file(
        manifest, root, layout="canonical", location=stores.locations[0].ncpdp_id, period=JAN
    )
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def stored(fill_id: int | None) -> Fill:
    assert fill_id is not None
    return Fill.objects.get(pk=fill_id)


def fills(location: Any) -> list[tuple[Any, ...]]:
    return sorted(
        Fill.objects.filter(location=location).values_list(*FILL_FIELDS),
        key=lambda row: tuple(str(v) for v in row),
    )


def test_first_push_creates_a_second_push_changes_nothing_a_new_amount_updates(
    stores: SimpleNamespace, world_files: Path, world_manifest: dict[str, Any]
) -> None:
    loc = stores.locations[0]
    rows = [r for r in jan_rows(stores, world_manifest, world_files) if r["bin"]][:3]
    first = push_fills(location=loc, rows=rows, source="test")
    assert [i.status for i in first.items] == ["created"] * 3
    assert first.counts == {"read": 3, "created": 3, "updated": 0, "unchanged": 0, "rejected": 0}
    assert first.job.kind == "pms"
    assert first.job.status == Job.Status.SUCCEEDED
    assert first.job.counts["inserted"] == 3
    ids = [i.fill_id for i in first.items]
    assert set(Fill.objects.filter(location=loc).values_list("pk", flat=True)) == set(ids)

    again = push_fills(location=loc, rows=rows, source="test")
    assert [(i.status, i.fill_id) for i in again.items] == [("unchanged", f) for f in ids]

    changed = dict(rows[1], acquisition_cost="99.99")
    third = push_fills(location=loc, rows=[rows[0], changed], source="test")
    assert [(i.status, i.fill_id) for i in third.items] == [
        ("unchanged", ids[0]),
        ("updated", ids[1]),
    ]
    fill = stored(ids[1])
    assert fill.acquisition_cost_cents == 9999
    assert fill.source_job_id == third.job.pk


def test_pushed_fills_are_stored_exactly_as_the_file_import_stores_the_same_rows(
    stores: SimpleNamespace, tmp_path: Path, world_files: Path, world_manifest: dict[str, Any]
) -> None:
    rows = jan_rows(stores, world_manifest, world_files)[:400]
    assert {r["transaction_code"] for r in rows} >= {"B1", "B2"}
    header = list(rows[0])
    pms_import_path(
        location=stores.locations[1],
        path=write_csv(tmp_path / "same.csv", header, [[r[h] for h in header] for r in rows]),
    )
    pushed = push_fills(location=stores.locations[0], rows=rows, source="test")
    assert pushed.counts["created"] == len(rows)
    assert fills(stores.locations[0]) == fills(stores.locations[1])
    assert len(fills(stores.locations[0])) == len(rows)


def test_json_numbers_load_like_the_csv_text(
    stores: SimpleNamespace, world_files: Path, world_manifest: dict[str, Any]
) -> None:
    from decimal import Decimal

    row = next(r for r in jan_rows(stores, world_manifest, world_files) if r["bin"])
    as_numbers: dict[str, object] = dict(row)
    for name in ("rx_number", "fill_number", "days_supply"):
        as_numbers[name] = int(row[name])
    for name in ("ingredient_cost_paid", "dispensing_fee_paid", "patient_pay_amount"):
        as_numbers[name] = Decimal(row[name])
    as_numbers["total_amount_paid"] = float(row["total_amount_paid"])
    as_numbers["med_sync_enrolled"] = row["med_sync_enrolled"] == "Y"
    first = push_fills(location=stores.locations[0], rows=[as_numbers], source="test")
    assert first.items[0].status == "created", first.items[0].errors
    fill = stored(first.items[0].fill_id)
    cents = int(Decimal(row["total_amount_paid"]) * 100)
    assert fill.total_paid_cents == cents
    # the same fill as CSV text: nothing to change
    assert push_fills(location=stores.locations[0], rows=[row], source="t").items[0].status == (
        "unchanged"
    )


def test_a_pushed_reversal_marks_its_claim_reversed(
    stores: SimpleNamespace, world_files: Path, world_manifest: dict[str, Any]
) -> None:
    loc = stores.locations[0]
    rows = jan_rows(stores, world_manifest, world_files)
    reversal = next(r for r in rows if r["transaction_code"] == "B2")
    key = ("rx_number", "fill_number", "date_of_service")
    original = next(
        r for r in rows if r["transaction_code"] == "B1" and all(r[k] == reversal[k] for k in key)
    )
    bill = push_fills(location=loc, rows=[original], source="test").items[0]
    assert stored(bill.fill_id).status == Fill.Status.PAID
    # named by its status only, the reversal is still a B2
    by_status = dict(reversal, transaction_code="")
    assert by_status["claim_status"] == "reversed"
    result = push_fills(location=loc, rows=[by_status], source="test")
    assert result.items[0].status == "created"
    assert stored(bill.fill_id).status == Fill.Status.REVERSED
    assert stored(result.items[0].fill_id).transaction_code == "B2"
    assert stored(bill.fill_id).source_job_id == result.job.pk


def test_a_bill_and_its_reversal_in_one_push_store_the_bill_reversed(
    stores: SimpleNamespace, world_files: Path, world_manifest: dict[str, Any]
) -> None:
    loc = stores.locations[0]
    rows = jan_rows(stores, world_manifest, world_files)
    reversal = next(r for r in rows if r["transaction_code"] == "B2")
    key = ("rx_number", "fill_number", "date_of_service")
    original = next(
        r for r in rows if r["transaction_code"] == "B1" and all(r[k] == reversal[k] for k in key)
    )
    # either order inside the batch
    for batch in ([original, reversal], [reversal, original]):
        Fill.objects.filter(location=loc).delete()
        result = push_fills(location=loc, rows=batch, source="test")
        assert [i.status for i in result.items] == ["created", "created"]
        by_code = {stored(i.fill_id).transaction_code: stored(i.fill_id) for i in result.items}
        assert by_code["B1"].status == Fill.Status.REVERSED
        assert by_code["B2"].status == Fill.Status.REVERSED
        assert by_code["B1"].source_job_id == result.job.pk


def test_bad_items_are_rejected_with_field_and_reason_and_quarantined_while_good_ones_load(
    stores: SimpleNamespace, world_files: Path, world_manifest: dict[str, Any]
) -> None:
    loc = stores.locations[0]
    rows: list[dict[str, object]] = [
        dict(r) for r in jan_rows(stores, world_manifest, world_files)[:6]
    ]
    rows[1]["ndc"] = "1234"
    rows[2]["pharmacy_ncpdp"] = stores.locations[1].ncpdp_id
    del rows[3]["rx_number"]
    rows[4]["colour"] = "blue"
    rows[5] = dict(rows[0])  # the same claim twice in one request
    result = push_fills(location=loc, rows=rows, source="test")
    assert [i.status for i in result.items] == [
        "created",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
    ]
    assert result.items[1].errors == [
        {
            "field": "ndc",
            "value": "1234",
            "reason": "NDC must be 11 digits, or 10 digits with hyphens (4-4-2, 5-3-2 or 5-4-1)",
        }
    ]
    assert result.items[2].errors[0]["field"] == "pharmacy_ncpdp"
    assert (
        f"is not this location's NCPDP ID ({loc.ncpdp_id})" in (result.items[2].errors[0]["reason"])
    )
    assert result.items[3].errors == [{"field": "rx_number", "value": "", "reason": "required"}]
    assert result.items[4].errors[0]["field"] == "colour"
    assert result.items[5].errors[0]["reason"] == "duplicate of item 0"
    assert result.counts["rejected"] == 5
    assert result.counts["created"] == 1
    assert Fill.objects.filter(location=loc).count() == 1
    quarantined = list(
        QuarantinedRow.objects.filter(job=result.job).order_by("line").values_list("line", "field")
    )
    assert quarantined == [
        (1, "ndc"),
        (2, "pharmacy_ncpdp"),
        (3, "rx_number"),
        (4, "colour"),
        (5, "(key)"),
    ]
    result.job.refresh_from_db()
    assert result.job.error_count == 5
    assert result.job.counts["quarantined"] == 5


@pytest.mark.parametrize(
    "value", [[1, 2], {"a": 1}, Decimal("1e999999999"), Decimal("-1E+31"), Decimal("NaN")]
)
def test_a_value_that_is_not_text_or_a_reasonable_number_is_rejected(
    stores: SimpleNamespace, world_files: Path, world_manifest: dict[str, Any], value: object
) -> None:
    row: dict[str, object] = dict(jan_rows(stores, world_manifest, world_files)[0])
    row["patient_zip"] = value
    item = push_fills(location=stores.locations[0], rows=[row], source="test").items[0]
    assert item.status == "rejected"
    assert item.errors[0]["field"] == "patient_zip"
    assert item.errors[0]["reason"] == (
        "must be a string or a number of at most 30 digits (text without NUL characters)"
    )


def test_a_push_that_changed_claims_queues_what_an_import_queues(
    stores: SimpleNamespace,
    world_files: Path,
    world_manifest: dict[str, Any],
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.RECONCILE_AFTER_IMPORT = True
    settings.WORKLISTS_AFTER_IMPORT = True
    rows = jan_rows(stores, world_manifest, world_files)[:2]
    with django_capture_on_commit_callbacks(execute=True):
        push_fills(location=stores.locations[0], rows=rows, source="test")
    assert set(Job.objects.exclude(kind="pms").values_list("kind", flat=True)) == {
        "reconcile",
        "worklists",
    }
    Job.objects.exclude(kind="pms").delete()
    with django_capture_on_commit_callbacks(execute=True):
        push_fills(location=stores.locations[0], rows=rows, source="test")  # unchanged
    assert not Job.objects.exclude(kind="pms").exists()


def test_the_planner_learns_a_store_doubled_from_the_fills_pushed_since_its_last_refresh(
    stores: SimpleNamespace,
    world_files: Path,
    world_manifest: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the planner believes of a store it has not analyzed yet depends on the rest of
    the table (and on the tests before this one): the test starts it at 0, then each refresh
    sets it to what the real ANALYZE makes of the store."""
    loc = stores.locations[0]
    rows = jan_rows(stores, world_manifest, world_files)
    keys = {
        (r["rx_number"], r["fill_number"], r["date_of_service"], r["transaction_code"])
        for r in rows
    }
    assert len(keys) == len(rows) >= 70
    monkeypatch.setattr(fill_push, "ANALYZE_MIN_ROWS", 20)
    shared_cache.delete(fill_push._fills_since_refresh_key(loc.pk))  # an earlier test's store
    real_refresh, real_planned = fill_push.store_statistics_refresh, fill_push.planned_fills
    believed = {loc.pk: 0}
    refreshes: list[int] = []

    def refresh(**options: Any) -> None:
        refreshes.append(Fill.objects.filter(location=loc).count())
        real_refresh(**options)
        believed[loc.pk] = real_planned(loc.pk)

    monkeypatch.setattr(fill_push, "store_statistics_refresh", refresh)
    monkeypatch.setattr(fill_push, "planned_fills", believed.__getitem__)

    def push(part: list[dict[str, str]]) -> None:
        assert push_fills(location=loc, rows=part, source="test").counts["created"] == len(part)

    push(rows[:10])  # 10 since the last refresh: too few to bother
    assert refreshes == []
    push(rows[10:30])  # 30, more than the planner's 0
    assert refreshes == [30]
    assert believed[loc.pk] == 30  # the refresh made the planner's estimate right
    push(rows[30:45])  # 15 since: the store has not doubled
    assert refreshes == [30]
    push(rows[45:70])  # 40 since, more than the 30 it was: doubled
    assert refreshes == [30, 70]
    assert believed[loc.pk] == 70
    again = push_fills(location=loc, rows=rows[:30], source="test")
    assert again.counts["unchanged"] == 30  # unchanged fills are not new ones
    assert refreshes == [30, 70]
