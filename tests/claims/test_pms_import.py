"""PMS import: every vendor layout, idempotent re-imports, reversals, and every bad-input
class answered with a message a user can act on."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.utils import timezone

from claims.models import Fill, Patient
from claims.services.pms_import import pms_import_path
from rxrevops.models import Job, QuarantinedRow
from tests.support.pms_fixtures import pms_file

JAN = "2026-01"


def canonical_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(path.open(newline="")))
    return rows[0], rows[1:]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *rows])
    path.write_text(buf.getvalue())
    return path


def counts(job: Job) -> tuple[int, int, int, int, int]:
    c = job.counts
    return c["read"], c["inserted"], c["updated"], c["unchanged"], c["quarantined"]


def test_canonical_export_loads_every_row(
    stores: SimpleNamespace, world_files: Path, world_manifest: dict[str, Any]
) -> None:
    loc = stores.locations[0]
    path = pms_file(
        world_manifest, world_files, layout="canonical", location=loc.ncpdp_id, period=JAN
    )
    job = pms_import_path(location=loc, path=path)
    _, rows = canonical_rows(path)
    assert job.status == Job.Status.SUCCEEDED
    assert counts(job) == (len(rows), len(rows), 0, 0, 0)
    assert Fill.objects.filter(location=loc).count() == len(rows)
    assert job.counts["profile"] == "canonical"


@pytest.mark.parametrize("store", [0, 1, 2])
def test_each_vendor_layout_holds_exactly_the_canonical_claims(
    stores: SimpleNamespace, world_files: Path, world_manifest: dict[str, Any], store: int
) -> None:
    loc = stores.locations[store]
    vendor = next(
        e
        for e in world_manifest["files"]
        if e["kind"] == "pms" and e["location"] == loc.ncpdp_id and e["layout"] != "canonical"
    )
    first = pms_import_path(location=loc, path=world_files / vendor["path"])
    assert first.status == Job.Status.SUCCEEDED, first.message
    assert first.counts["profile"] == vendor["layout"]
    canonical = pms_file(
        world_manifest,
        world_files,
        layout="canonical",
        location=loc.ncpdp_id,
        period=vendor["period"],
    )
    again = pms_import_path(location=loc, path=canonical)
    n = vendor["rows"]
    assert counts(first) == (n, n, 0, 0, 0)
    assert counts(again) == (n, 0, 0, n, 0)  # same values, byte for byte once normalized


def test_same_file_twice_changes_nothing_and_says_so(
    stores: SimpleNamespace, world_files: Path, world_manifest: dict[str, Any]
) -> None:
    loc = stores.locations[0]
    path = pms_file(
        world_manifest, world_files, layout="canonical", location=loc.ncpdp_id, period=JAN
    )
    first = pms_import_path(location=loc, path=path)
    before = list(Fill.objects.order_by("pk").values_list("pk", "updated_at"))
    second = pms_import_path(location=loc, path=path)
    assert second.counts["inserted"] == second.counts["updated"] == 0
    assert second.counts["unchanged"] == first.counts["read"]
    assert f"Same file as job #{first.pk}: nothing changed" in second.message
    assert list(Fill.objects.order_by("pk").values_list("pk", "updated_at")) == before


def test_the_same_file_as_the_stores_last_import_is_not_read_again(
    stores: SimpleNamespace, world_files: Path, world_manifest: dict[str, Any]
) -> None:
    loc = stores.locations[0]
    path = pms_file(
        world_manifest, world_files, layout="canonical", location=loc.ncpdp_id, period=JAN
    )
    first = pms_import_path(location=loc, path=path)
    second = pms_import_path(location=loc, path=path)
    n = first.counts["read"]
    assert counts(second) == (n, 0, 0, n, 0)
    assert second.counts["same_file"] == 1
    assert "the file was not read again" in second.message


def test_the_same_file_after_another_import_is_checked_row_by_row(
    stores: SimpleNamespace, world_files: Path, world_manifest: dict[str, Any]
) -> None:
    loc = stores.locations[0]

    def month(period: str) -> Path:
        return pms_file(
            world_manifest, world_files, layout="canonical", location=loc.ncpdp_id, period=period
        )

    january = pms_import_path(location=loc, path=month(JAN))
    pms_import_path(location=loc, path=month("2026-02"))
    again = pms_import_path(location=loc, path=month(JAN))
    n = january.counts["read"]
    assert counts(again) == (n, 0, 0, n, 0)
    assert "same_file" not in again.counts
    assert f"Same file as job #{january.pk}: nothing changed ({n} rows" in again.message


def test_the_same_file_after_another_writer_touched_the_claims_is_checked_row_by_row(
    stores: SimpleNamespace, world_files: Path, world_manifest: dict[str, Any]
) -> None:
    loc = stores.locations[0]
    path = pms_file(
        world_manifest, world_files, layout="canonical", location=loc.ncpdp_id, period=JAN
    )
    first = pms_import_path(location=loc, path=path)
    Fill.objects.filter(pk=Fill.objects.filter(location=loc).values("pk")[:1]).update(
        updated_at=timezone.now()
    )
    again = pms_import_path(location=loc, path=path)
    assert "same_file" not in again.counts
    assert again.counts["unchanged"] == first.counts["read"]


def test_overlapping_export_updates_changed_rows_and_adds_new_ones(
    stores: SimpleNamespace, tmp_path: Path, world_files: Path, world_manifest: dict[str, Any]
) -> None:
    loc = stores.locations[0]
    header, rows = canonical_rows(
        pms_file(world_manifest, world_files, layout="canonical", location=loc.ncpdp_id, period=JAN)
    )
    pms_import_path(location=loc, path=write_csv(tmp_path / "day1.csv", header, rows[:100]))
    changed = list(rows[5])
    acq = header.index("acquisition_cost")
    changed[acq] = "99.99"
    day2 = [*rows[:5], changed, *rows[6:150]]
    job = pms_import_path(location=loc, path=write_csv(tmp_path / "day2.csv", header, day2))
    assert counts(job) == (150, 50, 1, 99, 0)
    rx, fill = int(changed[header.index("rx_number")]), int(changed[header.index("fill_number")])
    assert (
        Fill.objects.get(
            location=loc,
            rx_number=rx,
            fill_number=fill,
            transaction_code=changed[header.index("transaction_code")],
        ).acquisition_cost_cents
        == 9999
    )


def test_a_reversal_marks_its_claim_reversed_instead_of_deleting_it(
    stores: SimpleNamespace, tmp_path: Path, world_files: Path, world_manifest: dict[str, Any]
) -> None:
    loc = stores.locations[0]
    header, rows = canonical_rows(
        pms_file(world_manifest, world_files, layout="canonical", location=loc.ncpdp_id, period=JAN)
    )
    code = header.index("transaction_code")
    reversal = next(r for r in rows if r[code] == "B2")
    key = [header.index(k) for k in ("rx_number", "fill_number", "date_of_service")]
    original = next(
        r for r in rows if r[code] == "B1" and [r[i] for i in key] == [reversal[i] for i in key]
    )
    pms_import_path(location=loc, path=write_csv(tmp_path / "a.csv", header, [original]))
    bill = Fill.objects.get(location=loc, transaction_code="B1")
    assert bill.status == Fill.Status.PAID
    pms_import_path(location=loc, path=write_csv(tmp_path / "b.csv", header, [reversal]))
    bill.refresh_from_db()
    assert bill.status == Fill.Status.REVERSED
    assert Fill.objects.filter(location=loc).count() == 2


def _rejected(loc: Any, path: Path) -> str:
    job = pms_import_path(location=loc, path=path)
    assert job.status == Job.Status.FAILED
    assert not Fill.objects.exists()
    return job.message


def test_binary_file_is_rejected_whole(stores: SimpleNamespace, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert "not a CSV or XLSX file" in _rejected(stores.locations[0], path)


def test_wrong_encoding_is_rejected_with_the_line(
    stores: SimpleNamespace, tmp_path: Path, world_files: Path, world_manifest: dict[str, Any]
) -> None:
    loc = stores.locations[0]
    header, rows = canonical_rows(
        pms_file(world_manifest, world_files, layout="canonical", location=loc.ncpdp_id, period=JAN)
    )
    rows = [list(r) for r in rows[:3]]
    rows[1][header.index("patient_last_name")] = "Pe\u00f1a"  # file line 3
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *rows])
    path = tmp_path / "latin1.csv"
    path.write_bytes(buf.getvalue().encode("latin-1"))
    message = _rejected(loc, path)
    assert "not UTF-8 text" in message
    assert "on line 3" in message


def test_file_without_a_header_row_is_rejected(stores: SimpleNamespace, tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_text("\n\n1,2,3\n")
    assert "no header row" in _rejected(stores.locations[0], path)


def test_unknown_layout_lists_headers_missing_fields_and_the_closest_profile(
    stores: SimpleNamespace, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "odd.csv",
        ["Rx Number", "Fill #", "Date Filled", "Qty", "Something Else"],
        [["1", "0", "01/02/2026", "30", "x"]],
    )
    message = _rejected(stores.locations[0], path)
    assert "Headers found: Rx Number, Fill #, Date Filled, Qty, Something Else" in message
    assert "Required fields missing: transaction_code, patient_id" in message
    assert "Closest known profile: pioneerrx" in message


def test_truncated_file_is_rejected_whole(
    stores: SimpleNamespace, tmp_path: Path, world_files: Path, world_manifest: dict[str, Any]
) -> None:
    loc = stores.locations[0]
    source = pms_file(
        world_manifest, world_files, layout="canonical", location=loc.ncpdp_id, period=JAN
    )
    data = source.read_bytes()
    path = tmp_path / "cut.csv"
    path.write_bytes(data[: len(data) // 2].rsplit(b",", 3)[0])
    assert "looks truncated" in _rejected(loc, path)


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("date_of_service", "2026-13-45", "not a date in the form YYYY-MM-DD"),
        ("ndc", "12345", "NDC must be 11 digits, or 10 digits with hyphens"),
        ("days_supply", "-30", "days supply must be more than 0"),
        ("quantity_dispensed", "0", "quantity dispensed is 0"),
        (
            "total_amount_paid",
            "1234.56",
            "ingredient cost + dispensing fee - patient pay does not equal total paid",
        ),
        ("ingredient_cost_paid", "twelve", "not an amount of money"),
    ],
)
def test_a_bad_row_is_quarantined_with_line_column_value_and_reason_and_the_rest_loads(
    stores: SimpleNamespace,
    tmp_path: Path,
    world_files: Path,
    world_manifest: dict[str, Any],
    column: str,
    value: str,
    reason: str,
) -> None:
    loc = stores.locations[0]
    header, rows = canonical_rows(
        pms_file(world_manifest, world_files, layout="canonical", location=loc.ncpdp_id, period=JAN)
    )
    rows = [list(r) for r in rows[:20]]
    rows[6][header.index(column)] = value
    job = pms_import_path(location=loc, path=write_csv(tmp_path / "x.csv", header, rows))
    assert job.status == Job.Status.SUCCEEDED
    assert counts(job) == (20, 19, 0, 0, 1)
    q = QuarantinedRow.objects.get(job=job)
    assert (q.line, q.field, q.value) == (8, column, value)  # header is line 1
    assert reason in q.reason
    assert job.errors[0]["reason"] == q.reason


def test_duplicate_key_inside_a_file_quarantines_the_repeat(
    stores: SimpleNamespace, tmp_path: Path, world_files: Path, world_manifest: dict[str, Any]
) -> None:
    loc = stores.locations[0]
    header, rows = canonical_rows(
        pms_file(world_manifest, world_files, layout="canonical", location=loc.ncpdp_id, period=JAN)
    )
    job = pms_import_path(
        location=loc, path=write_csv(tmp_path / "d.csv", header, [rows[0], rows[1], rows[0]])
    )
    assert counts(job) == (3, 2, 0, 0, 1)
    assert QuarantinedRow.objects.get(job=job).reason == "duplicate of line 2"


def test_patients_come_from_the_export_keyed_by_store_and_pms_id(
    stores: SimpleNamespace, world_files: Path, world_manifest: dict[str, Any]
) -> None:
    loc = stores.locations[1]
    path = pms_file(
        world_manifest, world_files, layout="canonical", location=loc.ncpdp_id, period=JAN
    )
    pms_import_path(location=loc, path=path)
    header, rows = canonical_rows(path)
    ids = {r[header.index("patient_id")] for r in rows}
    assert set(Patient.objects.filter(location=loc).values_list("pms_patient_id", flat=True)) == ids
