"""Writing payer contracts: validation by field, versions that never overlap, who may write,
the audit trail, the engine's view of the versions, and the demo chain's contracts."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal as D
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from demo.world.catalog import PAYERS
from reconciliation.contract_models import PayerContract
from reconciliation.contract_selectors import contracts_in_effect
from reconciliation.engine import contracts as core
from reconciliation.services.contracts import (
    demo_payer_contracts_create,
    payer_contract_new_version,
    payer_contract_save,
)
from rxrevops.models import AuditEvent, Role
from tests.factories import member

JAN = date(2026, 1, 1)


def terms(**kw: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": "Keystone commercial 2026",
        "payer_name": "Keystone PBM",
        "bin": "610442",
        "pcn": "KSCOMM",
        "group": "*",
        "effective_from": JAN,
        "brand_basis": core.AWP_MINUS,
        "brand_percent": D("17"),
        "brand_dispensing_fee_cents": 100,
        "generic_basis": core.MAC,
        "generic_dispensing_fee_cents": 100,
        "fee_per_claim_cents": 60,
        "days_to_pay": 14,
        "grace_days": 7,
    }
    values.update(kw)
    return values


def save(chain: SimpleNamespace, user: Any = None, **kw: Any) -> PayerContract:
    return payer_contract_save(user=user or chain.owner, organization=chain.org, **terms(**kw))


def errors(exc: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return set(exc.value.message_dict)


def test_an_owner_adds_a_contract_normalized_stamped_and_audited(chain: SimpleNamespace) -> None:
    c = save(chain, pcn=" kscomm ", group="")
    assert (c.bin, c.pcn, c.group) == ("610442", "KSCOMM", "*")
    assert (c.created_by, c.updated_by) == (chain.owner, chain.owner)
    event = AuditEvent.objects.get(object_type="reconciliation.PayerContract", object_id=str(c.pk))
    assert (event.action, event.organization_id) == (AuditEvent.Action.CREATE, chain.org.pk)


def test_revenue_staff_may_write_and_store_roles_may_not(chain: SimpleNamespace) -> None:
    assert save(chain, chain.revenue).pk
    with pytest.raises(PermissionDenied):
        save(chain, chain.technician_a, pcn="OTHER")
    with pytest.raises(PermissionDenied):
        save(chain, chain.pharmacist_b, pcn="OTHER")
    store_owner = member(organization=chain.org, role=Role.OWNER, locations=[chain.loc_a])
    with pytest.raises(PermissionDenied):  # contracts describe every store
        save(chain, store_owner, pcn="OTHER")


def test_an_owner_of_another_organization_may_not_write_here(
    chain: SimpleNamespace, other_chain: SimpleNamespace
) -> None:
    with pytest.raises(PermissionDenied):
        save(chain, other_chain.owner)
    assert not PayerContract.objects.exists()


def test_invalid_terms_are_refused_field_by_field(chain: SimpleNamespace) -> None:
    with pytest.raises(ValidationError) as exc:
        save(
            chain,
            bin="61044",
            brand_percent=D("120"),
            generic_basis=core.TRUST,
            generic_percent=D("5"),
            effective_to=date(2025, 12, 31),
        )
    assert errors(exc) == {"bin", "brand_percent", "generic_percent", "effective_to"}
    assert not PayerContract.objects.exists()


def test_versions_of_one_plan_key_may_not_overlap(chain: SimpleNamespace) -> None:
    save(chain, effective_to=date(2026, 6, 30))
    with pytest.raises(ValidationError) as exc:
        save(chain, pcn="kscomm", effective_from=date(2026, 6, 30))
    assert errors(exc) == {"effective_from"}
    assert "2026-01-01 to 2026-06-30" in exc.value.message_dict["effective_from"][0]
    # a version that starts before and runs into it is refused on its end date
    with pytest.raises(ValidationError) as exc:
        save(chain, effective_from=date(2025, 7, 1), effective_to=date(2026, 1, 1))
    assert errors(exc) == {"effective_to"}
    # the day after is fine, and so is another key on the same dates
    save(chain, effective_from=date(2026, 7, 1))
    save(chain, group="KSA100")
    assert PayerContract.objects.count() == 3


def test_blank_and_star_are_the_same_key(chain: SimpleNamespace) -> None:
    save(chain, pcn="*", group="*")
    with pytest.raises(ValidationError):
        save(chain, pcn="", group=" ", effective_from=date(2026, 3, 1))


def test_editing_a_version_in_place_keeps_it_clear_of_the_others(chain: SimpleNamespace) -> None:
    first = save(chain, effective_to=date(2026, 6, 30))
    save(chain, effective_from=date(2026, 7, 1))
    edited = payer_contract_save(
        user=chain.revenue, organization=chain.org, contract=first, brand_percent=D("18.5")
    )
    assert edited.brand_percent == D("18.5")
    assert edited.updated_by == chain.revenue
    with pytest.raises(ValidationError) as exc:
        payer_contract_save(
            user=chain.owner, organization=chain.org, contract=first, effective_to=None
        )
    assert errors(exc) == {"effective_to"}


def test_a_new_version_closes_the_previous_one_the_day_before(chain: SimpleNamespace) -> None:
    old = save(chain)
    new = payer_contract_new_version(
        user=chain.owner,
        contract=old,
        effective_from=date(2026, 7, 1),
        brand_percent=D("18"),
        name="Keystone commercial, July amendment",
    )
    old.refresh_from_db()
    assert old.effective_to == date(2026, 6, 30)
    assert (new.effective_from, new.effective_to) == (date(2026, 7, 1), None)
    assert (new.bin, new.pcn, new.group) == (old.bin, old.pcn, old.group)
    assert (new.brand_percent, new.fee_per_claim_cents, new.days_to_pay) == (D("18"), 60, 14)
    actions = list(
        AuditEvent.objects.filter(object_type="reconciliation.PayerContract")
        .order_by("pk")
        .values_list("action", "object_id")
    )
    assert actions[-2:] == [
        (AuditEvent.Action.UPDATE, str(old.pk)),
        (AuditEvent.Action.CREATE, str(new.pk)),
    ]


def test_a_new_version_starts_after_the_latest_one(chain: SimpleNamespace) -> None:
    old = save(chain)
    with pytest.raises(ValidationError) as exc:
        payer_contract_new_version(user=chain.owner, contract=old, effective_from=JAN)
    assert errors(exc) == {"effective_from"}
    old.refresh_from_db()
    assert old.effective_to is None


def test_a_new_version_after_a_gap_leaves_the_ended_version_alone(chain: SimpleNamespace) -> None:
    old = save(chain, effective_to=date(2026, 3, 31))
    new = payer_contract_new_version(
        user=chain.owner, contract=old, effective_from=date(2026, 5, 1), effective_to=None
    )
    old.refresh_from_db()
    assert old.effective_to == date(2026, 3, 31)
    assert new.effective_from == date(2026, 5, 1)


def test_a_new_version_refuses_bad_terms_without_closing_the_old_one(
    chain: SimpleNamespace,
) -> None:
    old = save(chain)
    with pytest.raises(ValidationError) as exc:
        payer_contract_new_version(
            user=chain.owner, contract=old, effective_from=date(2026, 7, 1), days_to_pay=-1
        )
    assert errors(exc) == {"days_to_pay"}
    old.refresh_from_db()
    assert old.effective_to is None


def test_a_technician_cannot_add_a_version(chain: SimpleNamespace) -> None:
    old = save(chain)
    with pytest.raises(PermissionDenied):
        payer_contract_new_version(
            user=chain.technician_a, contract=old, effective_from=date(2026, 7, 1)
        )


def test_the_engine_gets_every_version_as_terms_and_picks_by_date_of_service(
    chain: SimpleNamespace, other_chain: SimpleNamespace
) -> None:
    wide = save(chain, name="PCN-wide")
    payer_contract_new_version(
        user=chain.owner, contract=wide, effective_from=date(2026, 7, 1), fee_per_claim_cents=80
    )
    group = save(chain, name="Group A", group="KSA100", generic_basis=core.NADAC_PLUS)
    payer_contract_save(user=other_chain.owner, organization=other_chain.org, **terms())
    got = contracts_in_effect(chain.org.pk)
    assert len(got) == 3

    def pick(group: str, on: date) -> core.ContractTerms:
        found = core.contract_for(core.PlanKey("610442", "KSCOMM", group), on, got)
        assert found is not None
        return found

    assert pick("KSA100", date(2026, 8, 1)).contract_id == group.pk
    june, july = pick("KSB200", date(2026, 6, 30)), pick("KSB200", date(2026, 7, 1))
    assert (june.contract_id, june.fees.per_claim_cents) == (wide.pk, 60)
    assert july.fees.per_claim_cents == 80
    assert july.payment == core.PaymentTerms(days_to_pay=14, grace_days=7)
    assert july.brand == core.Reimbursement(core.AWP_MINUS, D("17.000"), 100)
    # a run window leaves out versions that ended before it
    assert len(contracts_in_effect(chain.org.pk, since=date(2026, 7, 1))) == 2


def test_the_demo_chain_gets_one_contract_per_payer_and_a_rerun_changes_nothing(
    chain: SimpleNamespace,
) -> None:
    payers = [dataclasses.asdict(p) for p in PAYERS]
    made = demo_payer_contracts_create(chain.org, payers, effective_from=JAN)
    assert len(made) == len([p for p in PAYERS if p.bin])  # cash has no contract
    meridian = PayerContract.objects.get(bin="015814")
    assert (meridian.pcn, meridian.group, meridian.contract_type) == (
        "MEDDPRIME",
        "RX4471",
        "value_based",
    )
    assert (meridian.brand_basis, meridian.brand_percent) == (core.AWP_MINUS, D("19.000"))
    assert (meridian.fee_per_claim_cents, meridian.fee_pct_of_ingredient) == (18, D("3.500"))
    # paid on Fridays every 7 days from the year's first Friday (Jan 2, 2026), at least 10
    # days after the date of service; overdue when two cycles pass unpaid
    assert (meridian.days_to_pay, meridian.grace_days) == (10, 13)
    assert (meridian.pay_cycle_days, meridian.pay_cycle_anchor) == (7, date(2026, 1, 2))
    medicaid = PayerContract.objects.get(bin="004740")
    assert (medicaid.generic_basis, medicaid.generic_percent) == (core.NADAC_PLUS, D("0.000"))
    assert medicaid.generic_dispensing_fee_cents == 1050
    keystone_a = PayerContract.objects.get(group="KSA100")
    assert keystone_a.fee_per_claim_cents == 25 + 35
    again = demo_payer_contracts_create(chain.org, payers, effective_from=JAN)
    assert [c.pk for c in again] == [c.pk for c in made]
    assert PayerContract.objects.count() == len(made)


def test_changing_a_contract_queues_a_reconciliation(
    db: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from rxrevops.models import Job
    from tests.factories import OrganizationFactory, member

    org = OrganizationFactory.create()
    owner = member(organization=org, role="owner")
    with django_capture_on_commit_callbacks(execute=True):
        payer_contract_save(
            user=owner,
            organization=org,
            name="Test",
            payer_name="Test PBM",
            bin="610999",
            effective_from=date(2026, 1, 1),
        )
    assert Job.objects.filter(organization=org, kind="reconcile").count() == 1
