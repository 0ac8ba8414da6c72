"""Every 835 the demo world writes loads, balances and says what the world paid, in each of
the four delimiter styles its payers use."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import pytest

from demo.world.build import build_world
from demo.world.catalog import PAYER_BY_KEY
from demo.world.model import Remittance as WorldRemittance
from demo.world.model import World
from demo.world.x12 import STYLES, remittances_to_x12
from reconciliation.x12 import Remittance, read_835_file

Cycle = tuple[str, date]


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(seed=7, scale="small", year=2026, as_of=date(2026, 4, 30))


@pytest.fixture(scope="module")
def cycles(world: World) -> dict[Cycle, list[WorldRemittance]]:
    """Remittances per payer and payment date, each cycle one file, as the writer files them."""
    by_cycle: dict[Cycle, list[WorldRemittance]] = defaultdict(list)
    for remit in world.remittances:
        by_cycle[(remit.payer, remit.payment_date)].append(remit)
    return {k: sorted(v, key=lambda r: r.location) for k, v in sorted(by_cycle.items())}


def assert_same(ours: Remittance, theirs: WorldRemittance, npi: str) -> None:
    assert (ours.paid_cents, ours.payment_date, ours.trace_number) == (
        theirs.paid_cents,
        theirs.payment_date,
        theirs.trace_number,
    )
    assert (ours.payee_npi, ours.payee_ncpdp) == (npi, theirs.location)
    assert len(ours.claims) == len(theirs.claims)
    for got, want in zip(ours.claims, theirs.claims, strict=True):
        assert (got.claim_ref, got.status, got.charge_cents, got.paid_cents) == (
            want.rx_ref,
            want.status,
            want.charge_cents,
            want.paid_cents,
        )
        assert (got.patient_resp_cents, got.payer_claim_control, got.member_id) == (
            want.patient_resp_cents,
            want.payer_claim_id,
            want.cardholder_id,
        )
        (line,) = got.services
        assert (line.ndc, line.units, line.dates["472"]) == (
            want.ndc,
            want.quantity,
            want.date_of_service,
        )
        assert line.control_number == want.rx_ref
        assert sorted((a.group, a.reason, a.amount_cents) for a in line.adjustments) == sorted(
            (a.group, a.reason, a.amount_cents) for a in want.adjustments
        )
    assert [(a.reason, a.reference, a.amount_cents) for a in ours.provider_adjustments] == [
        (a.reason, a.reference, a.amount_cents) for a in theirs.provider_adjustments
    ]


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_synthetic_835_loads_balances_and_matches_the_world(
    style: str, world: World, cycles: dict[Cycle, list[WorldRemittance]]
) -> None:
    locations = {loc.ncpdp: loc for loc in world.locations}
    claims = paid = 0
    for control, ((payer_key, day), remits) in enumerate(cycles.items(), start=1):
        data = remittances_to_x12(
            remits,
            payer=PAYER_BY_KEY[payer_key],
            locations=locations,
            interchange_control=control,
            delimiters=style,
        )
        parsed = read_835_file(data, f"835-{payer_key}-{day:%Y%m%d}.edi")
        serious = [i for i in parsed.all_issues if i.severity != "warning"]
        assert serious == [], serious[:3]
        assert [i.code for i in parsed.all_issues] == []
        assert len(parsed.remittances) == len(remits)
        for ours, theirs in zip(parsed.remittances, remits, strict=True):
            assert ours.balanced
            assert ours.interchange_control == f"{control:09d}"
            assert_same(ours, theirs, locations[theirs.location].npi)
            claims += len(ours.claims)
            paid += ours.paid_cents or 0
    assert claims == sum(len(r.claims) for r in world.remittances) > 1000
    assert paid == sum(r.paid_cents for r in world.remittances)
