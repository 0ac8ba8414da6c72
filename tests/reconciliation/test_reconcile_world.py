"""Reconciliation against the synthetic world's ground truth: every claim's status, remitted
amount, PLB recoupment and DIR withheld equal `truth/claims.csv`, and every run balances."""

from __future__ import annotations

import csv
from dataclasses import asdict
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from demo.world.catalog import PAYERS
from reconciliation.models import ClaimResult, PaymentMatch, PlbAllocation, ProviderAdjustment
from reconciliation.services.contracts import demo_payer_contracts_create
from reconciliation.services.runs import reconcile_now
from rxrevops.models import Job
from tests.support.recon_world import AS_OF, load_inputs, load_world

pytestmark = pytest.mark.django_db


def cents(text: str) -> int:
    return int(Decimal(text) * 100)


def test_every_claim_reconciles_to_the_worlds_truth(
    stores: SimpleNamespace, world_files: Path, world_manifest: dict[str, Any]
) -> None:
    load_world(stores, world_files, world_manifest)
    # the payers' contracts: their payment terms (pay cycles) decide pending vs overdue
    demo_payer_contracts_create(
        stores.org, [asdict(p) for p in PAYERS], effective_from=date(2026, 1, 1)
    )
    job = reconcile_now(organization=stores.org, as_of=AS_OF)
    assert job.status == Job.Status.SUCCEEDED, job.message

    with (world_files / "truth" / "claims.csv").open(newline="") as fh:
        truth = {
            (
                t["pharmacy_ncpdp"],
                t["rx_number"],
                t["fill_number"],
                t["date_of_service"],
                t["transaction_code"],
            ): t
            for t in csv.DictReader(fh)
        }
    ours = {
        (
            r.location.ncpdp_id,
            str(r.fill.rx_number),
            str(r.fill.fill_number),
            r.date_of_service.isoformat(),
            r.fill.transaction_code,
        ): r
        for r in ClaimResult.objects.select_related("location", "fill")
    }
    assert ours.keys() == truth.keys()
    wrong = [
        (key, t["expected_status"], ours[key].status)
        for key, t in truth.items()
        if ours[key].status != t["expected_status"]
    ]
    assert wrong == []
    for key, t in truth.items():
        r = ours[key]
        assert r.remitted_cents == cents(t["remitted"]), key
        assert r.recouped_cents == cents(t["recouped_by_plb"]), key
        assert r.dir_cents == cents(t["dir_on_remit"]), key
    statuses = {t["expected_status"] for t in truth.values()}
    # the small two-month world still exercises the main outcomes
    assert {"paid", "reversed", "reversal", "cash", "pending"} <= statuses

    # the run balances to the cent: every CLP04 is matched or kept unmatched
    c = job.counts
    assert c["remitted_cents"] == c["matched_cents"] + c["unmatched_cents"]
    assert c["unmatched_payments"] == 0
    # the story of each claim shows exactly the payments the run matched to it
    assert PaymentMatch.objects.count() == sum(r.payments for r in ours.values())
    # every PLB amount went somewhere: tied, allocated or carried, to the cent
    plb_total = sum(ProviderAdjustment.objects.values_list("amount_cents", flat=True))
    placed = sum(PlbAllocation.objects.values_list("amount_cents", flat=True))
    assert placed == plb_total
    parts = ("plb_tied_cents", "plb_allocated_cents", "plb_carried_cents", "plb_unplaced_cents")
    assert sum(c[k] for k in parts) == c["plb_cents"] == plb_total
    assert job.message.endswith("balanced to the cent.")


def test_a_second_run_on_the_same_facts_writes_the_same_rows(
    stores: SimpleNamespace, world_files: Path, world_manifest: dict[str, Any]
) -> None:
    load_world(stores, world_files, world_manifest)
    fields = ("fill_id", "status", "remitted_cents", "recouped_cents", "net_margin_cents")
    reconcile_now(organization=stores.org, as_of=AS_OF)
    first = sorted(ClaimResult.objects.values_list(*fields))
    reconcile_now(organization=stores.org, as_of=AS_OF)
    assert sorted(ClaimResult.objects.values_list(*fields)) == first
    assert len(first) > 1000


@pytest.mark.slow
def test_fees_and_costs_reconcile_to_the_worlds_truth_four_months_in(
    stores: SimpleNamespace, fee_world: Path
) -> None:
    """Run to April: fee statements for January and February have arrived, and every claim
    has its store's invoice price."""
    import json

    manifest = json.loads((fee_world / "manifest.json").read_text())
    load_world(stores, fee_world, manifest)
    load_inputs(stores, fee_world, manifest)
    demo_payer_contracts_create(
        stores.org, [asdict(p) for p in PAYERS], effective_from=date(2026, 1, 1)
    )
    job = reconcile_now(organization=stores.org, as_of=date(2026, 4, 30))
    assert job.status == Job.Status.SUCCEEDED, job.message
    with (fee_world / "truth" / "claims.csv").open(newline="") as fh:
        truth = list(csv.DictReader(fh))
    ours = {
        (r.location.ncpdp_id, r.fill.rx_number, r.fill.fill_number, r.date_of_service.isoformat(),
         r.fill.transaction_code): r
        for r in ClaimResult.objects.select_related("location", "fill")
    }  # fmt: skip
    with_fees = 0
    for t in truth:
        r = ours[
            (t["pharmacy_ncpdp"], int(t["rx_number"]), int(t["fill_number"]),
             t["date_of_service"], t["transaction_code"])
        ]  # fmt: skip
        assert r.status == t["expected_status"]
        assert r.remitted_cents == cents(t["remitted"])
        assert r.fees_actual_cents == cents(t["statement_fees"])
        with_fees += r.fees_actual_cents != 0
        if t["expected_status"] == "reversed":  # returned to stock: no cost, no margin
            assert (r.acquisition_cents, r.net_margin_cents) == (0, 0)
        elif t["transaction_code"] != "B2":
            assert (r.acquisition_cents, r.acquisition_source) == (
                cents(t["acquisition_cost"]),
                "invoice",
            )
    assert with_fees > 500  # the statements really were matched to claims
    assert job.counts["fee_lines_unmatched"] == 0
