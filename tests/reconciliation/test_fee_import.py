"""Importing PBM fee / DIR statements: the world's statements with their exact values,
re-uploads, overlapping statements, quarantined lines, rejected files, the command, who may
upload over the API, and a retry after a crash."""

from __future__ import annotations

import csv
import io
from datetime import date
from io import StringIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError

from reconciliation.ingest.fees import COLUMNS, read_fee_statement
from reconciliation.models import FeeLine
from reconciliation.services import fee_import
from reconciliation.services.fee_import import fee_import_create, fee_import_path
from rxrevops.models import Job, QuarantinedRow
from rxrevops.services.jobs import job_execute
from rxrevops.services.tokens import api_token_create

HEADER = tuple(COLUMNS)


@pytest.fixture
def statements(fee_world: Path) -> list[tuple[Path, int]]:
    import json

    manifest = json.loads((fee_world / "manifest.json").read_text())
    return sorted(
        (fee_world / e["path"], e["rows"])
        for e in manifest["files"]
        if e["kind"] == "fee_statement"
    )


@pytest.fixture
def statement(statements: list[tuple[Path, int]]) -> Path:
    """The largest statement."""
    return max(statements, key=lambda s: s[1])[0]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _write(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = HEADER) -> Path:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buf.getvalue())
    return path


def _cents(amount: str) -> int:
    sign = -1 if amount.startswith("-") else 1
    dollars, cents = amount.lstrip("-").split(".")
    return sign * (int(dollars) * 100 + int(cents))


def _key(r: dict[str, str]) -> tuple[Any, ...]:
    return (
        r["pharmacy_ncpdp"],
        int(r["rx_number"]),
        int(r["fill_number"]),
        date.fromisoformat(r["date_of_service"]),
        r["transaction_code"],
        date.fromisoformat(r["statement_date"]),
        r["fee_type"],
    )


def test_the_world_has_statements_for_the_stores(
    stores: SimpleNamespace, statements: list[tuple[Path, int]]
) -> None:
    assert len(statements) >= 4
    named = {r["pharmacy_ncpdp"] for path, _ in statements for r in _rows(path)}
    assert named <= {loc.ncpdp_id for loc in stores.locations}
    fee_types = {r["fee_type"] for path, _ in statements for r in _rows(path)}
    assert {"performance", "network"} <= fee_types


def test_every_line_of_every_statement_loads_with_its_exact_values(
    stores: SimpleNamespace, statements: list[tuple[Path, int]]
) -> None:
    expected: dict[tuple[Any, ...], dict[str, str]] = {}
    for path, rows in statements:
        job = fee_import_path(organization=stores.org, path=path)
        assert job.status == Job.Status.SUCCEEDED, job.message
        assert {k: job.counts[k] for k in ("read", "inserted", "updated", "quarantined")} == {
            "read": rows,
            "inserted": rows,
            "updated": 0,
            "quarantined": 0,
        }
        assert f"{rows} fee line(s) added" in job.message
        lines = _rows(path)
        assert len(lines) == rows
        expected.update({_key(r): r for r in lines})
    assert FeeLine.objects.count() == len(expected) == sum(n for _, n in statements)
    for line in FeeLine.objects.select_related("location"):
        key = (
            line.location.ncpdp_id,
            line.rx_number,
            line.fill_number,
            line.date_of_service,
            line.transaction_code,
            line.statement_date,
            line.fee_type,
        )
        row = expected.pop(key)
        assert line.organization_id == stores.org.pk
        assert line.amount_cents == _cents(row["fee_amount"])
        assert (line.payer_name, line.bin, line.pcn, line.group) == (
            row["payer_name"],
            row["bin"],
            row["pcn"],
            row["group_id"],
        )
        assert line.authorization_number == row["authorization_number"]
        assert line.job_id is not None
        assert line.import_file_id is not None
    assert expected == {}
    # incentives earned back under a value-based contract are negative lines
    assert FeeLine.objects.filter(amount_cents__lt=0).exists()


def test_reupload_of_the_same_file_changes_nothing_and_says_so(
    stores: SimpleNamespace, statement: Path
) -> None:
    first = fee_import_path(organization=stores.org, path=statement)
    before = sorted(FeeLine.objects.values_list("pk", "amount_cents", "updated_at", "job_id"))
    again = fee_import_path(organization=stores.org, path=statement)
    assert again.status == Job.Status.SUCCEEDED
    n = first.counts["read"]
    assert (again.counts["inserted"], again.counts["updated"], again.counts["unchanged"]) == (
        0,
        0,
        n,
    )
    assert again.message == (
        f"Same file as job #{first.pk}: nothing changed ({n} fee line(s) already up to date)."
    )
    after = sorted(FeeLine.objects.values_list("pk", "amount_cents", "updated_at", "job_id"))
    assert after == before


def test_an_overlapping_statement_updates_changed_lines_and_adds_new_ones(
    stores: SimpleNamespace, statement: Path, tmp_path: Path
) -> None:
    rows = _rows(statement)[:15]
    fee_import_path(organization=stores.org, path=_write(tmp_path / "a.csv", rows[:10]))
    restated = [dict(r) for r in rows[5:]]
    restated[0]["fee_amount"] = "9.99"  # line 6 of the first file, restated
    job = fee_import_path(organization=stores.org, path=_write(tmp_path / "b.csv", restated))
    assert (job.counts["inserted"], job.counts["updated"], job.counts["unchanged"]) == (5, 1, 4)
    assert job.message.startswith("5 fee line(s) added, 1 updated, 4 already up to date")
    assert FeeLine.objects.count() == 15
    changed = FeeLine.objects.get(
        rx_number=int(rows[5]["rx_number"]),
        fill_number=int(rows[5]["fill_number"]),
        fee_type=rows[5]["fee_type"],
        statement_date=date.fromisoformat(rows[5]["statement_date"]),
    )
    assert (changed.amount_cents, changed.job_id) == (999, job.pk)


def test_bad_lines_are_quarantined_with_line_column_value_and_reason_and_the_rest_load(
    stores: SimpleNamespace, statement: Path, tmp_path: Path, api_login: Any
) -> None:
    good = _rows(statement)[:4]
    bad_date = {**good[0], "date_of_service": "2026-02-30"}
    bad_money = {**good[0], "fee_type": "transaction", "fee_amount": "0.3.5"}
    unknown_store = {**good[0], "pharmacy_ncpdp": "9999999"}
    bad_rx = {**good[0], "rx_number": "22A0008"}
    bad_type = {**good[0], "fee_type": "late_fee"}
    # lines: header 1, good 2-3, bad 4-6, good 7, bad 8-9, good 10, repeat of line 2 at 11
    rows = [good[0], good[1], bad_date, bad_money, unknown_store, good[2], bad_rx, bad_type]
    rows += [good[3], good[0]]
    path = _write(tmp_path / "with-bad-lines.csv", rows)
    job = fee_import_path(organization=stores.org, path=path)
    assert job.status == Job.Status.SUCCEEDED, job.message
    assert (job.counts["read"], job.counts["inserted"], job.counts["quarantined"]) == (10, 4, 6)
    assert "6 row(s) quarantined for correction" in job.message
    assert FeeLine.objects.count() == 4
    assert list(QuarantinedRow.objects.filter(job=job).values_list("line", "field", "value")) == [
        (4, "date_of_service", "2026-02-30"),
        (5, "fee_amount", "0.3.5"),
        (6, "pharmacy_ncpdp", "9999999"),
        (8, "rx_number", "22A0008"),
        (9, "fee_type", "late_fee"),
        (11, "(key)", " ".join(str(v) for v in _key(good[0]))),
    ]
    body = api_login(stores.owner).get(f"/api/v1/imports/{job.pk}/errors/").json()
    reasons = {r["line"]: r["reason"] for r in body["results"]}
    assert "Not a date in the form YYYY-MM-DD" in reasons[4]
    assert "Not an amount of money" in reasons[5]
    assert "No store of this organization has this NCPDP id" in reasons[6]
    assert "whole number" in reasons[8]
    assert "Not one of effective_rate_true_up, network, performance, transaction" in reasons[9]
    assert "The same fee" in reasons[11]
    assert "as line 2" in reasons[11]


def _without_amount(tmp_path: Path, statement: Path) -> Path:
    columns = tuple(c for c in HEADER if c != "fee_amount")
    return _write(tmp_path / "no-amount.csv", _rows(statement), columns)


def _binary(tmp_path: Path, statement: Path) -> Path:
    path = tmp_path / "scan.csv"
    path.write_bytes(b"%PDF-1.7\n\x00\x01\x02" + bytes(range(256)))
    return path


def _latin1(tmp_path: Path, statement: Path) -> Path:
    path = tmp_path / "latin1.csv"
    text = statement.read_bytes()
    first_name = _rows(statement)[0]["payer_name"].encode()
    path.write_bytes(text.replace(first_name, first_name + b" Soci\xe9t\xe9", 1))
    return path


def _no_header(tmp_path: Path, statement: Path) -> Path:
    path = tmp_path / "no-header.csv"
    path.write_bytes(b"".join(statement.read_bytes().splitlines(keepends=True)[1:]))
    return path


def _header_only(tmp_path: Path, statement: Path) -> Path:
    path = tmp_path / "empty.csv"
    path.write_text(",".join(HEADER) + "\n")
    return path


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (_without_amount, "required column(s) missing: fee_amount"),
        (_binary, "not a CSV or XLSX file"),
        (_latin1, "is not UTF-8 text"),
        (_no_header, "The first line must be the header row"),
        (_header_only, "no rows"),
    ],
)
def test_a_structurally_broken_file_is_rejected_whole(
    stores: SimpleNamespace, statement: Path, tmp_path: Path, make: Any, problem: str
) -> None:
    path = make(tmp_path, statement)
    job = fee_import_path(organization=stores.org, path=path)
    assert job.status == Job.Status.FAILED
    assert job.message.startswith(f"{path.name} was rejected and nothing from it was loaded")
    assert problem in job.message
    assert not FeeLine.objects.exists()
    assert not QuarantinedRow.objects.filter(job=job).exists()


def test_the_command_prints_the_summary_and_fails_on_a_rejected_file(
    stores: SimpleNamespace, statement: Path, tmp_path: Path
) -> None:
    n = len(_rows(statement))
    out = StringIO()
    call_command("import_fees", str(statement), "--org", stores.org.slug, stdout=out)
    assert f"read {n}, inserted {n}, updated 0, unchanged 0" in out.getvalue()
    assert f"{n} fee line(s) added" in out.getvalue()
    out = StringIO()
    call_command("import_fees", str(statement), "--org", stores.org.slug, stdout=out)
    assert f"read {n}, inserted 0, updated 0, unchanged {n}" in out.getvalue()
    assert "nothing changed" in out.getvalue()
    with pytest.raises(CommandError, match=r"Rejected: scan\.csv"):
        call_command(
            "import_fees", str(_binary(tmp_path, statement)), "--org", "prairie", stdout=StringIO()
        )


def _upload(client: Any, path: Path, **extra: str) -> Any:
    with path.open("rb") as fh:
        return client.post("/api/v1/imports/", {"kind": "fees", "file": fh, **extra})


def test_uploading_a_fee_statement_over_the_api_needs_remits_write(
    stores: SimpleNamespace, statement: Path, api_login: Any
) -> None:
    claims_only = api_token_create(organization=stores.org, name="PMS", scopes=["claims:write"])
    refused = _upload(api_login(token=claims_only.key), statement)
    assert refused.status_code == 403
    assert "remits:write" in refused.json()["detail"]
    assert not Job.objects.filter(kind="fees").exists()
    writer = api_token_create(organization=stores.org, name="PSAO", scopes=["remits:write"])
    accepted = _upload(api_login(token=writer.key), statement)
    assert accepted.status_code == 202, accepted.content
    assert accepted.json()["kind"] == "fees"
    # a store-scoped user cannot upload an organization's statement
    assert _upload(api_login(stores.technician_0), statement).status_code == 403


def test_a_worker_that_crashes_mid_file_finishes_the_job_correctly_on_retry(
    stores: SimpleNamespace, statement: Path
) -> None:
    with statement.open("rb") as fh:
        job = fee_import_create(
            organization=stores.org, stream=fh, original_name=statement.name, enqueue=False
        )
    real = fee_import.input_import_finish
    with (
        mock.patch.object(
            fee_import, "input_import_finish", side_effect=OperationalError("worker lost")
        ),
        pytest.raises(OperationalError),
    ):
        job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING  # left for the retry
    assert not FeeLine.objects.exists()  # the half-done file was rolled back
    with mock.patch.object(fee_import, "input_import_finish", side_effect=real):
        job_execute(job_id=job.pk)
    job.refresh_from_db()
    n = len(_rows(statement))
    assert job.status == Job.Status.SUCCEEDED
    assert (job.counts["inserted"], job.counts["read"], job.attempts) == (n, n, 2)
    assert FeeLine.objects.count() == n


def test_the_reader_normalizes_without_a_database(tmp_path: Path) -> None:
    row = {
        "statement_date": "2026-04-14",
        "payer_name": "Keystone",
        "bin": "610442",
        "pcn": "KSCOMM",
        "group_id": "KSA100",
        "pharmacy_ncpdp": "4410001",
        "rx_number": "2200008",
        "fill_number": "1",
        "date_of_service": "2026-02-10",
        "transaction_code": "b1",
        "authorization_number": "4422604100000023",
        "fee_type": "Effective Rate True-Up",
        "fee_amount": "$1,234.50",
    }
    credit = {**row, "fee_type": "performance", "fee_amount": "(0.35)"}
    later = {**row, "fee_type": "network", "date_of_service": "2026-04-15"}
    result = read_fee_statement(_write(tmp_path / "s.csv", [row, credit, later]))
    got = result.rows.to_pylist()
    assert [(r["fee_type"], r["amount_cents"], r["transaction_code"]) for r in got] == [
        ("effective_rate_true_up", 123450, "B1"),
        ("performance", -35, "B1"),
    ]
    assert [(p.line, p.column) for p in result.problems] == [(4, "date_of_service")]
    assert "after the statement date" in result.problems[0].reason


def test_lines_are_numbered_as_in_the_file_after_a_short_row_and_a_blank_line(
    statement: Path, tmp_path: Path
) -> None:
    rows = _rows(statement)[:3]
    rows[1]["date_of_service"] = "2026-02-30"
    path = _write(tmp_path / "gaps.csv", [rows[0]])
    text = path.read_text() + "2026-04-14,Keystone,1,2\n\n"  # a short row, a blank line
    _write(path, [rows[2], rows[1]])
    path.write_text(text + "".join(path.read_text().splitlines(keepends=True)[1:]))
    result = read_fee_statement(path)
    assert result.read == 4
    assert result.rows.column("_line").to_pylist() == [2, 5]
    assert [(p.line, p.column) for p in result.problems] == [(3, "(row)"), (6, "date_of_service")]
