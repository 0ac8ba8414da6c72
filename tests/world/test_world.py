"""The synthetic chain: deterministic, counted honestly, balanced, valid X12, and telling
the stories the product has to find (underwater store, short-paying plan, late clawbacks)."""

from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from demo.world import payments
from demo.world.adherence_truth import covered_days
from demo.world.build import build_world
from demo.world.catalog import DRUG_BY_NDC
from demo.world.model import Claim, World
from demo.world.simulate import SCALES
from demo.world.writers import write_world
from tests.world.conftest import SMALL

Files = tuple[Path, dict[str, Any]]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def x12_segments(data: bytes) -> list[list[str]]:
    """Split an interchange with the delimiters its ISA declares (test-local, minimal)."""
    text = data.decode("latin-1").replace("\r", "")
    if text[105] != "\n":  # newline is not the terminator: line breaks are transport only
        text = text.replace("\n", "")
    element, terminator = text[3], text[105]
    return [s.strip("\n").split(element) for s in text.split(terminator) if s.strip("\n")]


def test_same_seed_writes_identical_bytes(small_files: Files, tmp_path: Path) -> None:
    first, manifest = small_files
    again = tmp_path / "again"
    write_world(build_world(**SMALL), again)  # type: ignore[arg-type]
    assert (again / "manifest.json").read_bytes() == (first / "manifest.json").read_bytes()
    for entry in manifest["files"]:
        assert (again / entry["path"]).read_bytes() == (first / entry["path"]).read_bytes(), entry


def test_another_seed_gives_another_world(small_world: World) -> None:
    other = build_world(seed=8, scale="small", year=2026)
    assert [c.key for c in other.claims[:50]] != [c.key for c in small_world.claims[:50]]


def test_manifest_lists_every_file_with_true_counts_and_hashes(small_files: Files) -> None:
    out, manifest = small_files
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert on_disk - {"manifest.json"} == {e["path"] for e in manifest["files"]}
    for entry in manifest["files"]:
        data = (out / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        if entry["kind"] == "remit_835":
            segments = x12_segments(data)
            assert sum(s[0] == "CLP" for s in segments) == entry["claims"]
            assert sum(s[0] == "ST" for s in segments) == entry["transactions"]
        elif entry["path"].endswith(".csv"):
            assert len(read_csv(out / entry["path"])) == entry["rows"]
        elif entry["path"].endswith(".xlsx"):
            sheet = load_workbook(out / entry["path"], read_only=True).active
            assert sheet is not None
            assert sum(1 for _ in sheet.iter_rows()) - 1 == entry["rows"]


def test_manifest_totals_match_the_world(small_world: World, small_files: Files) -> None:
    _, manifest = small_files
    canonical = [e for e in manifest["files"] if e.get("layout") == "canonical"]
    assert sum(e["rows"] for e in canonical) == len(small_world.claims)
    assert sum(e["claims"] for e in manifest["files"] if e["kind"] == "remit_835") == sum(
        len(r.claims) for r in small_world.remittances
    )


def _normalized(rows: list[tuple[Any, ...]]) -> Counter[tuple[Any, ...]]:
    return Counter(rows)


def _canonical_keys(path: Path) -> list[tuple[Any, ...]]:
    return [
        (
            int(r["rx_number"]),
            int(r["fill_number"]),
            date.fromisoformat(r["date_of_service"]),
            r["transaction_code"],
            r["ndc"],
            Decimal(r["quantity_dispensed"]),
            Decimal(r["total_amount_paid"]),
            Decimal(r["acquisition_cost"]),
            r["patient_id"],
        )
        for r in read_csv(path)
    ]


def _vendor_money(text: str) -> Decimal:
    text = text.strip()
    negative = text.startswith("(")
    value = Decimal(text.strip("()").replace("$", "").replace(",", ""))
    return -value if negative else value


def _vendor_keys(path: Path, layout: str) -> list[tuple[Any, ...]]:
    txn = {
        "Billed": "B1",
        "Reversed": "B2",
        "Rebilled": "B3",
        "Original": "B1",
        "Reversal": "B2",
        "Rebill": "B3",
    }
    if layout == "pioneerrx":

        def us(d: str) -> date:
            m, dd, y = d.split("/")
            return date(int(y), int(m), int(dd))

        return [
            (
                int(r["Rx Number"]),
                int(r["Fill #"]),
                us(r["Date Filled"]),
                txn[r["Transaction"]],
                r["NDC"].replace("-", ""),
                Decimal(r["Qty"]),
                _vendor_money(r["Third Party Paid"]),
                _vendor_money(r["Acq Cost"]),
                r["Patient ID"],
            )
            for r in read_csv(path)
        ]
    if layout == "bestrx":

        def ymd(d: str) -> date:
            return date(int(d[:4]), int(d[4:6]), int(d[6:]))

        return [
            (
                int(r["RxNo"]),
                int(r["RefillNo"]),
                ymd(r["FillDate"]),
                r["TxnType"],
                r["NDC11"].strip('="'),
                Decimal(r["QtyDispensed"]),
                Decimal(r["PlanPaid"]),
                Decimal(r["AcqCost"]),
                r["PatientID"],
            )
            for r in read_csv(path)
        ]
    sheet = load_workbook(path, read_only=True).active
    assert sheet is not None
    rows = sheet.iter_rows(values_only=True)
    header = list(next(rows))
    out = []
    for values in rows:
        r = dict(zip(header, values, strict=True))
        out.append(
            (
                r["Script"],
                r["Refill"],
                r["Service Date"].date(),
                txn[r["Type"]],
                str(r["NDC"]).replace("-", ""),
                Decimal(str(r["Quantity"])),
                Decimal(str(r["Plan Paid"])),
                Decimal(str(r["Acquisition Cost"])),
                r["Pt #"],
            )
        )
    return out


def test_vendor_layouts_hold_the_same_claims_as_the_canonical_export(small_files: Files) -> None:
    out, manifest = small_files
    canonical = {
        (e["location"], e["period"]): e for e in manifest["files"] if e.get("layout") == "canonical"
    }
    vendors = [e for e in manifest["files"] if e["kind"] == "pms" and e["layout"] != "canonical"]
    assert {e["layout"] for e in vendors} == {"pioneerrx", "bestrx", "liberty"}
    assert len(vendors) == len(canonical)
    for entry in vendors:
        twin = canonical[(entry["location"], entry["period"])]
        assert _normalized(_vendor_keys(out / entry["path"], entry["layout"])) == _normalized(
            _canonical_keys(out / twin["path"])
        ), entry["path"]


def test_every_835_balances(small_files: Files) -> None:
    """BPR02 = sum(CLP04) - sum(PLB amounts) per transaction; CLP03 - CLP04 = sum(CAS) per
    claim."""
    out, manifest = small_files
    checked = 0
    for entry in (e for e in manifest["files"] if e["kind"] == "remit_835"):
        claim: list[Decimal] | None = None  # [charge - paid, adjustments]
        for seg in x12_segments((out / entry["path"]).read_bytes()):
            if seg[0] in ("CLP", "SE", "PLB") and claim is not None:
                assert claim[0] == claim[1], (entry["path"], claim)
                checked += 1
                claim = None
            if seg[0] == "ST":
                bpr = clp = plb = Decimal(0)
            elif seg[0] == "BPR":
                bpr = Decimal(seg[2])
            elif seg[0] == "CLP":
                clp += Decimal(seg[4])
                claim = [Decimal(seg[3]) - Decimal(seg[4]), Decimal(0)]
            elif seg[0] == "CAS" and claim is not None:
                claim[1] += sum(Decimal(seg[i]) for i in range(3, len(seg), 3) if seg[i])
            elif seg[0] == "PLB":
                plb += sum(Decimal(seg[i]) for i in range(4, len(seg), 2) if seg[i])
            elif seg[0] == "SE":
                assert bpr == clp - plb, entry["path"]
    assert checked > 1000


def test_every_835_passes_pyx12_validation(small_files: Files, tmp_path: Path) -> None:
    """Hard-wrapped files are validated as our reader sees them: with the transport line
    breaks removed (pyx12 cannot read the ISA of a wrapped file, and a line break inside an
    element is not X12)."""
    out, manifest = small_files
    paths = []
    for entry in (e for e in manifest["files"] if e["kind"] == "remit_835"):
        path = out / entry["path"]
        if entry["delimiters"] == "wrapped":
            data = path.read_bytes()
            assert max(map(len, data.split(b"\n"))) <= 80
            path = tmp_path / path.name
            path.write_bytes(data.replace(b"\n", b""))
        paths.append(path)
    assert len(paths) > 100
    result = subprocess.run(
        [str(Path(sys.executable).parent / "x12valid"), "--quiet", *map(str, paths)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=900,
    )
    report = result.stdout + result.stderr
    ok = {line.split(": ")[0] for line in report.splitlines() if line.endswith(": OK")}
    assert ok == set(map(str, paths)), report[-3000:]


def test_all_four_delimiter_styles_are_written(small_files: Files) -> None:
    _, manifest = small_files
    styles = {e["delimiters"] for e in manifest["files"] if e["kind"] == "remit_835"}
    assert styles == {"standard", "control", "wrapped", "newline"}


def test_about_one_remitted_claim_in_six_is_a_reversal(small_world: World) -> None:
    statuses = Counter(c.status for r in small_world.remittances for c in r.claims)
    share = statuses["22"] / sum(statuses.values())
    assert 0.10 <= share <= 0.22, statuses


def test_every_reconciliation_outcome_occurs(small_world: World) -> None:
    seen = Counter(small_world.truth.values())
    for status in (
        payments.PAID,
        payments.SHORT_PAID,
        payments.UNPAID,
        payments.PENDING,
        payments.REVERSED,
        payments.REVERSED_BUT_PAID,
        payments.RECOUPED,
        payments.OVERPAID,
        payments.CASH,
        payments.REVERSAL,
    ):
        assert seen[status] > 0, (status, seen)


def _below_cost(c: Claim) -> bool:
    revenue = c.total_paid_cents + c.patient_pay_cents
    return revenue < c.acquisition_cost_cents


def test_one_store_has_most_generics_underwater(small_world: World) -> None:
    share = {}
    for loc in small_world.locations:
        generics = [
            c
            for c in small_world.claims
            if c.location == loc.ncpdp
            and c.transaction != "B2"
            and c.payer != "cash"
            and not DRUG_BY_NDC[c.ndc].is_brand
            and DRUG_BY_NDC[c.ndc].nadac_unit < 1
            and c.payer != "prairie_mcd"
        ]
        share[loc.ncpdp] = sum(map(_below_cost, generics)) / len(generics)
    worst = max(share, key=share.__getitem__)
    assert share[worst] > 0.5, share
    assert sorted(share.values())[-2] < 0.25, share


def test_one_plan_of_a_pbm_is_short_paid_and_its_sister_plan_is_not(small_world: World) -> None:
    by_payer = Counter(
        next(c.payer for c in small_world.claims if c.key == key)
        for key, status in small_world.truth.items()
        if status == payments.SHORT_PAID
    )
    assert by_payer["keystone_b"] > 10
    assert by_payer["keystone_a"] == 0


def test_clawbacks_arrive_about_six_weeks_after_the_payment(small_world: World) -> None:
    paid_on: dict[Any, date] = {}
    gaps = []
    for remit in sorted(small_world.remittances, key=lambda r: r.payment_date):
        for c in remit.claims:
            if c.status == "1":
                paid_on.setdefault(c.claim_key, remit.payment_date)
            elif small_world.truth.get(c.claim_key) == payments.RECOUPED:
                gaps.append((remit.payment_date - paid_on[c.claim_key]).days)
    assert gaps
    assert all(42 <= g <= 49 for g in gaps), gaps


def test_pdc_shifts_overlapping_fills_of_the_same_drug_but_not_of_different_drugs() -> None:
    def fill(ndc: str, day: date, days: int) -> Claim:
        return Claim(
            location="1",
            rx_number=1,
            fill_number=0,
            date_of_service=day,
            transaction="B1",
            transaction_date=day,
            patient_id="p",
            prescriber_npi="",
            ndc=ndc,
            quantity=Decimal(30),
            days_supply=days,
            payer="cash",
            usual_customary_cents=0,
            ingredient_cost_paid_cents=0,
            dispensing_fee_paid_cents=0,
            patient_pay_cents=0,
            total_paid_cents=0,
            acquisition_cost_cents=0,
            basis_of_reimbursement="",
            authorization="",
        )

    start, end = date(2026, 1, 1), date(2026, 3, 31)  # 90 days
    atorvastatin, rosuvastatin = "60505257909", "00591390419"
    # same drug: Jan 1 (30 days) and Jan 21 (30 days) -> second shifted to Jan 31: 60 days
    assert (
        covered_days(
            [fill(atorvastatin, start, 30), fill(atorvastatin, date(2026, 1, 21), 30)], start, end
        )
        == 60
    )
    # different drugs: Jan 1 (30) and Jan 21 (30) -> days counted once: Jan 1..Feb 19 = 50
    assert (
        covered_days(
            [fill(atorvastatin, start, 30), fill(rosuvastatin, date(2026, 1, 21), 30)], start, end
        )
        == 50
    )
    # supply runs past the period end: truncated (Mar 17 + 30 days -> 15 days in March)
    assert covered_days([fill(atorvastatin, date(2026, 3, 17), 30)], start, end) == 15


def test_small_scale_is_about_twenty_thousand_claims(small_world: World) -> None:
    assert 15_000 <= len(small_world.claims) <= 25_000
    assert len(small_world.locations) == SCALES["small"].locations == 3


@pytest.mark.slow
def test_medium_scale_is_about_three_hundred_thousand_claims() -> None:
    world = build_world(seed=7, scale="medium", year=2026)
    assert 240_000 <= len(world.claims) <= 360_000
    assert len(world.locations) == 8


def test_as_of_date_stops_the_simulation(small_world: World) -> None:
    early = build_world(seed=7, scale="small", year=2026, as_of=date(2026, 6, 30))
    assert max(c.transaction_date for c in early.claims) <= date(2026, 6, 30)
    assert max(r.payment_date for r in early.remittances) <= date(2026, 6, 30)
    assert len(early.claims) < len(small_world.claims)


def test_pms_file_is_plain_csv_with_the_canonical_header(small_files: Files) -> None:
    out, manifest = small_files
    first = next(e for e in manifest["files"] if e.get("layout") == "canonical")
    header = (out / first["path"]).read_text().splitlines()[0]
    assert header.startswith("pharmacy_ncpdp,pharmacy_npi,rx_number,fill_number,date_of_service")
    assert "acquisition_cost" in header


def test_pdc_truth_excludes_only_insulin_users_from_dr_and_entresto_users_from_rasa(
    small_world: World,
) -> None:
    from demo.world.adherence_truth import dispensed_fills, pdc_results

    results = pdc_results(small_world.claims, year=small_world.year, as_of=small_world.as_of)
    classes: dict[tuple[str, str], set[str | None]] = {}
    for f in dispensed_fills(small_world.claims):
        classes.setdefault((f.location, f.patient_id), set()).add(
            DRUG_BY_NDC[f.ndc].adherence_class
        )
    excluded = [r for r in results if r.status == "excluded"]
    assert excluded
    assert {r.measure for r in excluded} == {"PDC-DR", "PDC-RASA"}
    for r in excluded:
        marker = "INSULIN" if r.measure == "PDC-DR" else "SACVAL"
        assert marker in classes[(r.location, r.patient_id)]
    measured = [r for r in results if r.status == "measured"]
    assert {r.measure for r in measured} == {"PDC-DR", "PDC-RASA", "PDC-STA"}
    adherent = sum(bool(r.adherent) for r in measured) / len(measured)
    assert 0.4 < adherent < 0.9  # a realistic mix for worklists to work on


def test_an_earlier_as_of_date_is_a_prefix_of_a_later_one() -> None:
    """The demo re-seeds every day: the chain and its patients must not change with the date,
    and what happened before a day must not change because a later day is simulated."""
    early = build_world(seed=7, scale="small", year=2026, as_of=date(2026, 5, 1))
    later = build_world(seed=7, scale="small", year=2026, as_of=date(2026, 5, 2))
    assert early.patients == later.patients
    assert early.locations == later.locations
    assert early.claims == [c for c in later.claims if c.transaction_date <= date(2026, 5, 1)]


@pytest.mark.parametrize("seed", [3, 5, 7])
def test_truth_agrees_with_what_the_remittances_paid(seed: int) -> None:
    world = build_world(seed=seed, scale="small", year=2026)
    remitted = payments.remitted_by_claim(world.remittances)
    dir_fees = payments.dir_by_claim(world.remittances)
    recouped = payments.plb_recouped(world.remittances)
    checked: Counter[str] = Counter()
    for claim in world.claims:
        status = world.truth[claim.key]
        if claim.transaction == "B2" or claim.total_paid_cents <= 0:
            continue
        got = remitted.get(claim.key, 0) + dir_fees.get(claim.key, 0)
        owed = claim.total_paid_cents
        if status == payments.PAID:
            assert got == owed, (claim.key, status, got, owed)
        elif status == payments.SHORT_PAID:
            assert 0 < got < owed, (claim.key, status, got, owed)
        elif status in (payments.UNPAID, payments.PENDING, payments.REVERSED):
            assert remitted.get(claim.key, 0) == 0, (claim.key, status)
        elif status == payments.REVERSED_BUT_PAID:
            assert remitted.get(claim.key, 0) > 0, (claim.key, status)
        elif status == payments.OVERPAID:
            assert got > owed, (claim.key, status, got, owed)
        elif status == payments.RECOUPED:
            net = remitted.get(claim.key, 0) - recouped.get(claim.authorization, 0)
            assert net == 0, (claim.key, status, net)
        checked[status] += 1
    assert checked[payments.PAID] > 1000
    assert checked[payments.REVERSED] > 100


def test_bytes_do_not_depend_on_hash_seed_or_locale(tmp_path: Path) -> None:
    """Two fresh interpreters with different hash seeds and locales write the same world."""
    script = (
        "import sys; from datetime import date; from pathlib import Path;"
        "from demo.world.build import build_world; from demo.world.writers import write_world;"
        "write_world(build_world(seed=7, scale='small', year=2026, as_of=date(2026, 2, 28)),"
        " Path(sys.argv[1]))"
    )
    outputs = []
    for hash_seed, locale in (("1", "C"), ("99", "C.UTF-8")):
        out = tmp_path / hash_seed
        env = {
            "PYTHONHASHSEED": hash_seed,
            "LC_ALL": locale,
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        }
        subprocess.run([sys.executable, "-c", script, str(out)], check=True, env=env, timeout=300)
        outputs.append((out / "manifest.json").read_bytes())
    assert outputs[0] == outputs[1]
