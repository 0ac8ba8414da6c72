"""Importing costs: the CMS NADAC file (each organization's own copy) and each
store's wholesaler invoices — the world's files with their exact values, re-uploads,
overlapping files, later and earlier NADAC publications, quarantined rows, rejected files,
the command, and who may upload over the API."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from io import StringIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from reconciliation.ingest.costs import INVOICE_COLUMNS, NADAC_COLUMNS, read_acquisition
from reconciliation.models import AcquisitionCost, NadacPrice
from reconciliation.services import fee_import  # noqa: F401  (registers the "fees" kind)
from reconciliation.services.cost_import import acquisition_import_path, nadac_import_path
from rxrevops.models import Job, QuarantinedRow
from rxrevops.services.tokens import api_token_create
from tests.factories import OrganizationFactory

NADAC_HEADER = tuple(NADAC_COLUMNS.values())
INVOICE_HEADER = tuple(INVOICE_COLUMNS)


@pytest.fixture
def nadac_csv(world_files: Path) -> Path:
    return world_files / "costs" / "nadac-2026.csv"


@pytest.fixture
def invoices(world_files: Path, world_manifest: dict[str, Any]) -> list[tuple[Path, str, int]]:
    """(file, store NCPDP, rows) for every invoice file of the world."""
    return sorted(
        (world_files / e["path"], e["location"], e["rows"])
        for e in world_manifest["files"]
        if e["kind"] == "acquisition"
    )


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _write(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...]) -> Path:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buf.getvalue())
    return path


def _mdy(text: str) -> date:
    month, day, year = text.split("/")
    return date(int(year), int(month), int(day))


def _cents(amount: str) -> int:
    dollars, cents = amount.split(".")
    return int(dollars) * 100 + int(cents)


def _store(stores: SimpleNamespace, ncpdp: str) -> Any:
    return next(loc for loc in stores.locations if loc.ncpdp_id == ncpdp)


# --- NADAC ---------------------------------------------------------------------------------


def test_every_nadac_price_of_the_world_loads_exactly_into_the_organizations_copy(
    stores: SimpleNamespace, nadac_csv: Path
) -> None:
    rows = _rows(nadac_csv)
    job = nadac_import_path(organization=stores.org, path=nadac_csv)
    assert job.status == Job.Status.SUCCEEDED, job.message
    assert {k: job.counts[k] for k in ("read", "inserted", "updated", "quarantined")} == {
        "read": len(rows),
        "inserted": len(rows),
        "updated": 0,
        "quarantined": 0,
    }
    assert NadacPrice.objects.count() == len(rows) > 100
    stored = {(p.ndc, p.effective_date): p for p in NadacPrice.objects.all()}
    for row in rows:
        price = stored[(row["NDC"], _mdy(row["Effective Date"]))]
        assert price.per_unit == Decimal(row["NADAC Per Unit"])
        assert str(price.per_unit) == row["NADAC Per Unit"]  # five places, as published
        assert price.pricing_unit == row["Pricing Unit"]
        assert price.description == row["NDC Description"]
        assert price.classification == row["Classification for Rate Setting"] in ("B", "G")
        assert price.as_of_date == _mdy(row["As of Date"])
        assert price.generic_per_unit is None
        assert price.organization_id == stores.org.pk


def test_reupload_of_the_same_nadac_file_changes_nothing_and_says_so(
    stores: SimpleNamespace, nadac_csv: Path
) -> None:
    first = nadac_import_path(organization=stores.org, path=nadac_csv)
    before = sorted(NadacPrice.objects.values_list("pk", "per_unit", "updated_at"))
    again = nadac_import_path(organization=stores.org, path=nadac_csv)
    n = first.counts["read"]
    assert (again.counts["inserted"], again.counts["updated"], again.counts["unchanged"]) == (
        0,
        0,
        n,
    )
    assert f"Same file as job #{first.pk}: nothing changed" in again.message
    assert sorted(NadacPrice.objects.values_list("pk", "per_unit", "updated_at")) == before


def test_another_organizations_upload_never_changes_this_ones_prices(
    stores: SimpleNamespace, nadac_csv: Path, tmp_path: Path
) -> None:
    nadac_import_path(organization=stores.org, path=nadac_csv)
    ours = sorted(NadacPrice.objects.filter(organization=stores.org).values_list("ndc", "per_unit"))
    rows = _rows(nadac_csv)
    for row in rows:  # a tampered "NADAC" file, published far in the future
        row["NADAC Per Unit"] = "0.00001"
        row["As of Date"] = "01/01/2099"
    other = OrganizationFactory.create(slug="other-chain")
    job = nadac_import_path(
        organization=other, path=_write(tmp_path / "fake.csv", rows, NADAC_HEADER)
    )
    assert job.status == Job.Status.SUCCEEDED
    assert job.counts["inserted"] == len(rows)  # into its own copy
    assert (
        sorted(NadacPrice.objects.filter(organization=stores.org).values_list("ndc", "per_unit"))
        == ours
    )


def test_a_later_publication_updates_prices_and_an_older_one_leaves_them_alone(
    stores: SimpleNamespace, nadac_csv: Path, tmp_path: Path
) -> None:
    rows = _rows(nadac_csv)[:12]
    nadac_import_path(organization=stores.org, path=_write(tmp_path / "a.csv", rows, NADAC_HEADER))
    # the next weekly file: 6 prices restated (one changed) and 6 new ones
    later = [{**r, "As of Date": "11/30/2026"} for r in _rows(nadac_csv)[6:18]]
    later[0]["NADAC Per Unit"] = "1.23456"
    job = nadac_import_path(
        organization=stores.org, path=_write(tmp_path / "b.csv", later, NADAC_HEADER)
    )
    assert (job.counts["inserted"], job.counts["updated"], job.counts["unchanged"]) == (6, 6, 0)
    changed = NadacPrice.objects.get(
        ndc=later[0]["NDC"], effective_date=_mdy(later[0]["Effective Date"])
    )
    assert (changed.per_unit, changed.as_of_date) == (Decimal("1.23456"), date(2026, 11, 30))
    # an older publication of the same prices, uploaded late, changes none of them
    older = [{**r, "As of Date": "10/01/2026", "NADAC Per Unit": "9.99999"} for r in later]
    stale = nadac_import_path(
        organization=stores.org, path=_write(tmp_path / "c.csv", older, NADAC_HEADER)
    )
    assert (stale.counts["inserted"], stale.counts["updated"], stale.counts["superseded"]) == (
        0,
        0,
        12,
    )
    assert "12 row(s) left out: a later publication of the same price is loaded" in stale.message
    assert not NadacPrice.objects.filter(per_unit=Decimal("9.99999")).exists()


def test_one_file_with_several_weekly_publications_keeps_the_latest(
    stores: SimpleNamespace, nadac_csv: Path, tmp_path: Path
) -> None:
    row = _rows(nadac_csv)[0]
    weeks = [
        {**row, "As of Date": "11/02/2026", "NADAC Per Unit": "1.00000"},
        {**row, "As of Date": "11/16/2026", "NADAC Per Unit": "1.00002"},
        {**row, "As of Date": "11/09/2026", "NADAC Per Unit": "1.00001"},
    ]
    job = nadac_import_path(
        organization=stores.org, path=_write(tmp_path / "weeks.csv", weeks, NADAC_HEADER)
    )
    assert (job.counts["read"], job.counts["inserted"], job.counts["superseded"]) == (3, 1, 2)
    assert NadacPrice.objects.get().per_unit == Decimal("1.00002")


def test_bad_nadac_rows_are_quarantined_and_listed_by_the_api(
    stores: SimpleNamespace, nadac_csv: Path, tmp_path: Path, api_login: Any
) -> None:
    good = _rows(nadac_csv)[:2]
    rows = [
        good[0],
        {**good[1], "NDC": "0003-0894-21X"},
        {**good[1], "Effective Date": "02/30/2026"},
        {**good[1], "NADAC Per Unit": "-0.50000"},
        {**good[1], "NADAC Per Unit": "0.123456"},
        {**good[1], "Pricing Unit": "BOX"},
        {**good[0]},  # the same price of the same publication again
        good[1],
    ]
    job = nadac_import_path(
        organization=stores.org, path=_write(tmp_path / "bad.csv", rows, NADAC_HEADER)
    )
    assert job.status == Job.Status.SUCCEEDED, job.message
    assert (job.counts["read"], job.counts["inserted"], job.counts["quarantined"]) == (8, 2, 6)
    assert list(QuarantinedRow.objects.filter(job=job).values_list("line", "field", "value")) == [
        (3, "NDC", "0003-0894-21X"),
        (4, "Effective Date", "02/30/2026"),
        (5, "NADAC Per Unit", "-0.50000"),
        (6, "NADAC Per Unit", "0.123456"),
        (7, "Pricing Unit", "BOX"),
        (8, "(key)", f"{good[0]['NDC']} {_mdy(good[0]['Effective Date'])}"),
    ]
    body = api_login(stores.owner).get(f"/api/v1/imports/{job.pk}/errors/").json()
    reasons = {r["line"]: r["reason"] for r in body["results"]}
    assert "An NDC is 11 digits" in reasons[3]
    assert "Not a date in the form MM/DD/YYYY or YYYY-MM-DD" in reasons[4]
    assert reasons[5] == "Must not be negative."
    assert "5 after" in reasons[6]
    assert "Not one of EA, GM, ML" in reasons[7]
    assert "as line 2" in reasons[8]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)), "not a CSV or XLSX file"),
        (b"NDC,Effective Date,Pricing Unit\n00003089421,01/01/2026,EA\n", "NADAC Per Unit"),
        (
            b"NDC Description,NDC,NADAC Per Unit,Effective Date,Pricing Unit\n"
            b"ACETAMINOPH\xc9N,00003089421,0.01000,01/01/2026,EA\n",
            "is not UTF-8 text",
        ),
        (b"ELIQUIS 5 MG TABLET,00003089421,9.41020,01/01/2026,EA\n", "must be the header row"),
    ],
)
def test_a_broken_nadac_file_is_rejected_whole(
    stores: SimpleNamespace, tmp_path: Path, content: bytes, problem: str
) -> None:
    path = tmp_path / "nadac.csv"
    path.write_bytes(content)
    job = nadac_import_path(organization=stores.org, path=path)
    assert job.status == Job.Status.FAILED
    assert job.message.startswith("nadac.csv was rejected and nothing from it was loaded")
    assert problem in job.message
    assert not NadacPrice.objects.exists()


# --- acquisition costs ----------------------------------------------------------------------


def test_every_invoice_line_of_the_world_loads_under_its_store_with_exact_costs(
    stores: SimpleNamespace, invoices: list[tuple[Path, str, int]]
) -> None:
    for path, ncpdp, n in invoices:
        job = acquisition_import_path(location=_store(stores, ncpdp), path=path)
        assert job.status == Job.Status.SUCCEEDED, job.message
        assert (job.counts["read"], job.counts["inserted"], job.counts["quarantined"]) == (n, n, 0)
        assert job.location_id == _store(stores, ncpdp).pk
    assert AcquisitionCost.objects.count() == sum(n for _, _, n in invoices)
    for path, ncpdp, _ in invoices:
        for row in _rows(path):
            cost = AcquisitionCost.objects.get(
                location__ncpdp_id=ncpdp, invoice_number=row["invoice_number"], ndc=row["ndc"]
            )
            assert cost.organization_id == stores.org.pk
            assert cost.invoice_date == date.fromisoformat(row["invoice_date"])
            assert cost.unit_cost == Decimal(row["unit_cost"])
            assert cost.extended_cost_cents == _cents(row["extended_cost"])
            assert (cost.package_size, cost.packages) == (
                Decimal(row["package_size"]),
                Decimal(row["packages"]),
            )
            assert cost.description == row["description"]


def test_reupload_of_the_same_invoices_changes_nothing_and_an_overlap_updates_changed_lines(
    stores: SimpleNamespace, invoices: list[tuple[Path, str, int]], tmp_path: Path
) -> None:
    path, ncpdp, n = invoices[0]
    store = _store(stores, ncpdp)
    first = acquisition_import_path(location=store, path=path)
    again = acquisition_import_path(location=store, path=path)
    assert (again.counts["inserted"], again.counts["updated"], again.counts["unchanged"]) == (
        0,
        0,
        n,
    )
    assert again.message.startswith(f"Same file as job #{first.pk}: nothing changed")
    rows = _rows(path)
    rows[0]["packages"] = str(int(rows[0]["packages"]) + 1)
    rows[0]["extended_cost"] = ""  # the corrected line gives the unit cost only
    corrected = acquisition_import_path(
        location=store, path=_write(tmp_path / "corrected.csv", rows, INVOICE_HEADER)
    )
    assert (corrected.counts["updated"], corrected.counts["unchanged"]) == (1, n - 1)
    line = AcquisitionCost.objects.get(location=store, ndc=rows[0]["ndc"])
    units = Decimal(rows[0]["package_size"]) * Decimal(rows[0]["packages"])
    expected = (Decimal(rows[0]["unit_cost"]) * units * 100).quantize(Decimal(1))
    assert (line.packages, line.extended_cost_cents) == (Decimal(rows[0]["packages"]), expected)
    assert AcquisitionCost.objects.count() == n


def test_bad_invoice_lines_are_quarantined_and_listed_by_the_api(
    stores: SimpleNamespace, invoices: list[tuple[Path, str, int]], tmp_path: Path, api_login: Any
) -> None:
    path, ncpdp, _ = invoices[0]
    good = _rows(path)[:8]
    rows = [
        good[0],
        {**good[1], "packages": "-2"},
        {**good[2], "ndc": "12345"},
        {**good[3], "extended_cost": "12,34.5"},
        {**good[4], "invoice_date": "2026-01-32"},
        {**good[5], "account_ncpdp": "9999999"},
        {**good[6], "extended_cost": "1.00"},
        {**good[0], "description": "again"},
        good[7],
    ]
    job = acquisition_import_path(
        location=_store(stores, ncpdp), path=_write(tmp_path / "bad.csv", rows, INVOICE_HEADER)
    )
    assert job.status == Job.Status.SUCCEEDED, job.message
    assert (job.counts["read"], job.counts["inserted"], job.counts["quarantined"]) == (9, 2, 7)
    assert list(QuarantinedRow.objects.filter(job=job).values_list("line", "field", "value")) == [
        (3, "packages", "-2"),
        (4, "ndc", "12345"),
        (5, "extended_cost", "12,34.5"),
        (6, "invoice_date", "2026-01-32"),
        (7, "account_ncpdp", "9999999"),
        (8, "extended_cost", "1.00"),
        (9, "(key)", f"{good[0]['invoice_number']} {good[0]['ndc']}"),
    ]
    body = api_login(stores.owner).get(f"/api/v1/imports/{job.pk}/errors/").json()
    reasons = {r["line"]: r["reason"] for r in body["results"]}
    assert reasons[3] == "Must not be negative."
    assert "An NDC is 11 digits" in reasons[4]
    assert "Not an amount of money" in reasons[5]
    assert "Not a date" in reasons[6]
    assert reasons[7] == f"This line is for store 9999999; the file was uploaded for store {ncpdp}."
    assert "Not unit_cost x package_size x packages" in reasons[8]
    assert "The same invoice and NDC as line 2" in reasons[9]


def test_a_file_with_only_extended_costs_gets_unit_costs_to_five_places(
    stores: SimpleNamespace, invoices: list[tuple[Path, str, int]], tmp_path: Path
) -> None:
    path, ncpdp, n = invoices[0]
    columns = tuple(c for c in INVOICE_HEADER if c != "unit_cost")
    job = acquisition_import_path(
        location=_store(stores, ncpdp), path=_write(tmp_path / "ext.csv", _rows(path), columns)
    )
    assert job.counts["inserted"] == n
    for row in _rows(path):
        cost = AcquisitionCost.objects.get(ndc=row["ndc"], invoice_number=row["invoice_number"])
        units = Decimal(row["package_size"]) * Decimal(row["packages"])
        assert cost.extended_cost_cents == _cents(row["extended_cost"])
        # the file's unit cost, to within the rounding of the extended cost to the cent
        assert abs(cost.unit_cost - Decimal(row["unit_cost"])) * units <= Decimal("0.01")


@pytest.mark.parametrize(
    ("drop", "problem"),
    [
        (("ndc",), "required column(s) missing: ndc"),
        (("unit_cost", "extended_cost"), "unit_cost or extended_cost"),
    ],
)
def test_an_invoice_file_missing_a_column_is_rejected_whole(
    stores: SimpleNamespace,
    invoices: list[tuple[Path, str, int]],
    tmp_path: Path,
    drop: tuple[str, ...],
    problem: str,
) -> None:
    path, ncpdp, _ = invoices[0]
    columns = tuple(c for c in INVOICE_HEADER if c not in drop)
    bad = _write(tmp_path / "partial.csv", _rows(path), columns)
    job = acquisition_import_path(location=_store(stores, ncpdp), path=bad)
    assert job.status == Job.Status.FAILED
    assert problem in job.message
    assert not AcquisitionCost.objects.exists()


def test_the_reader_checks_invoices_without_a_database(tmp_path: Path) -> None:
    row = {
        "invoice_number": "W1",
        "invoice_date": "2026-01-01",
        "account_ncpdp": "4410001",
        "ndc": "0093-7267-01",  # 4-4-2 with hyphens: padded to 11 digits
        "description": "Metformin",
        "package_size": "100",
        "packages": "0",
        "unit_cost": "0.03131",
        "extended_cost": "",
    }
    result = read_acquisition(
        _write(tmp_path / "i.csv", [{**row, "packages": "2"}, row], INVOICE_HEADER)
    )
    assert [(r["ndc"], r["extended_cost_cents"]) for r in result.rows.to_pylist()] == [
        ("00093726701", 626)
    ]
    assert [(p.line, p.column, p.reason) for p in result.problems] == [
        (3, "packages", "Must be more than 0.")
    ]


# --- commands and API -----------------------------------------------------------------------


def test_the_command_imports_nadac_and_invoices_and_prints_the_summary(
    stores: SimpleNamespace, nadac_csv: Path, invoices: list[tuple[Path, str, int]]
) -> None:
    out = StringIO()
    call_command("import_costs", str(nadac_csv), "--kind", "nadac", "--org", "prairie", stdout=out)
    n = len(_rows(nadac_csv))
    assert f"read {n}, inserted {n}, updated 0, unchanged 0" in out.getvalue()
    assert f"{n} NADAC price(s) added" in out.getvalue()
    path, ncpdp, rows = invoices[0]
    out = StringIO()
    # the store comes from the file name: invoices-<ncpdp>-<YYYY-MM>.csv
    call_command("import_costs", str(path), "--kind", "acquisition", stdout=out)
    assert f"read {rows}, inserted {rows}" in out.getvalue()
    assert AcquisitionCost.objects.filter(location__ncpdp_id=ncpdp).count() == rows
    out = StringIO()
    call_command(
        "import_costs", str(path), "--kind", "acquisition", "--location", ncpdp, stdout=out
    )
    assert "nothing changed" in out.getvalue()
    with pytest.raises(CommandError, match="No store with NCPDP 1234567"):
        call_command("import_costs", str(path), "--kind", "acquisition", "--location", "1234567")


def _upload(client: Any, path: Path, kind: str, **extra: str) -> Any:
    with path.open("rb") as fh:
        return client.post("/api/v1/imports/", {"kind": kind, "file": fh, **extra})


def test_a_store_scoped_token_uploads_invoices_for_its_own_store_only(
    stores: SimpleNamespace, invoices: list[tuple[Path, str, int]], api_login: Any
) -> None:
    path, ncpdp, _ = invoices[0]
    own, other = _store(stores, ncpdp), next(s for s in stores.locations if s.ncpdp_id != ncpdp)
    token = api_token_create(
        organization=stores.org, name="store", scopes=["remits:write"], locations=[own]
    )
    client = api_login(token=token.key)
    assert _upload(client, path, "acquisition", location=other.ncpdp_id).status_code == 404
    accepted = _upload(client, path, "acquisition", location=own.ncpdp_id)
    assert accepted.status_code == 202, accepted.content
    job = Job.objects.get(pk=accepted.json()["id"])
    assert (job.kind, job.location_id) == ("acquisition", own.pk)
    # a token without remits:write cannot upload costs
    pms = api_token_create(organization=stores.org, name="pms", scopes=["claims:write"])
    refused = _upload(api_login(token=pms.key), path, "acquisition", location=own.ncpdp_id)
    assert refused.status_code == 403
    assert "remits:write" in refused.json()["detail"]


def test_an_owner_uploads_nadac_over_the_api(
    stores: SimpleNamespace, nadac_csv: Path, api_login: Any
) -> None:
    response = _upload(api_login(stores.owner), nadac_csv, "nadac")
    assert response.status_code == 202, response.content
    assert response.json()["kind"] == "nadac"
    assert _upload(api_login(stores.pharmacist_0), nadac_csv, "nadac").status_code == 403


def test_the_upload_page_offers_the_new_kinds_and_takes_an_invoice_file(
    stores: SimpleNamespace, invoices: list[tuple[Path, str, int]], login: Any
) -> None:
    client = login(stores.owner)
    page = client.get("/imports/").content.decode()
    for label in (
        "PBM fee / DIR statement",
        "NADAC reference prices",
        "Acquisition costs (wholesaler invoices)",
    ):
        assert label in page
    path, ncpdp, _ = invoices[0]
    store = _store(stores, ncpdp)
    with path.open("rb") as fh:
        response = client.post(
            "/imports/", {"kind": "acquisition", "location": store.pk, "file": fh, "profile": ""}
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    job = Job.objects.get(kind="acquisition")
    assert (job.location_id, job.status) == (store.pk, Job.Status.QUEUED)
