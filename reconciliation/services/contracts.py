"""Writing payer contracts: create and edit a version, add a new version, seed the demo's.

Owners and revenue staff whose access spans the organization edit its contracts (API tokens
do not). Every write is validated field by field (ValidationError keyed by field name),
refused when it would make two versions of one key (organization, BIN, PCN, group) share a
day, and recorded in the audit log. Writes to one organization's contracts are serialized
(a transaction-scoped advisory lock), so two editors cannot both pass the overlap check.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from reconciliation.contract_models import PayerContract
from reconciliation.engine import contracts as core
from rxrevops.access import Principal, TokenPrincipal
from rxrevops.models import AuditEvent, Membership, Organization, Role
from rxrevops.services.audit import audit_record

EDITOR_ROLES = (Role.OWNER, Role.REVENUE)
KEY_FIELDS = ("bin", "pcn", "group")
# what a person may set on a version (the organization is chosen once, at creation)
EDITABLE_FIELDS = (
    "name",
    "payer_name",
    *KEY_FIELDS,
    "contract_type",
    "effective_from",
    "effective_to",
    "brand_basis",
    "brand_percent",
    "brand_dispensing_fee_cents",
    "generic_basis",
    "generic_percent",
    "generic_dispensing_fee_cents",
    "lesser_of_usual_customary",
    "fee_per_claim_cents",
    "fee_pct_of_ingredient",
    "fee_pct_of_plan_paid",
    "generic_effective_rate",
    "brand_effective_rate",
    "days_to_pay",
    "grace_days",
    "pay_cycle_days",
    "pay_cycle_anchor",
    "notes",
)
# carried from the version a new version starts from, unless changed
_TERM_FIELDS = tuple(
    f for f in EDITABLE_FIELDS if f not in (*KEY_FIELDS, "effective_from", "effective_to")
)


def payer_contract_may_edit(user: Principal, organization_id: int) -> bool:
    """An owner or revenue member whose access spans the organization (directly, or as a
    member of the network it belongs to)."""
    if isinstance(user, TokenPrincipal) or not user.is_authenticated:
        return False
    network_id = (
        Organization.objects.filter(pk=organization_id).values_list("network_id", flat=True).first()
    )
    return Membership.objects.filter(
        user=user,
        role__in=EDITOR_ROLES,
        all_locations=True,
        organization_id__in=[organization_id, network_id],
    ).exists()


def _require_editor(user: Principal, organization_id: int) -> None:
    if not payer_contract_may_edit(user, organization_id):
        raise PermissionDenied("Only owners and revenue staff edit payer contracts.")


def _lock_contracts(organization_id: int) -> None:
    """Serialize contract writes of one organization until the transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext('payer_contract:' || %s))",
            [str(organization_id)],
        )


def _check_values(values: Mapping[str, Any], allowed: Iterable[str]) -> None:
    unknown = set(values) - set(allowed)
    if unknown:
        raise TypeError(f"not a payer contract field: {', '.join(sorted(unknown))}")


def payer_contract_check_overlap(contract: PayerContract) -> None:
    """Refuse a version sharing a day with another version of its key (ValidationError on
    the date that collides). Expects `clean()` to have normalized the key."""
    others = PayerContract.objects.filter(
        organization_id=contract.organization_id,
        bin=contract.bin,
        pcn=contract.pcn,
        group=contract.group,
    ).exclude(pk=contract.pk)
    for other in others.order_by("effective_from"):
        if core.periods_overlap(
            contract.effective_from,
            contract.effective_to,
            other.effective_from,
            other.effective_to,
        ):
            until = other.effective_to.isoformat() if other.effective_to else "open-ended"
            where = (
                "effective_from"
                if other.effective_from <= contract.effective_from
                else ("effective_to")
            )
            raise ValidationError(
                {
                    where: (
                        f"Overlaps the version of {contract.plan_label} in effect "
                        f"{other.effective_from.isoformat()} to {until} (“{other.name}”). "
                        "Versions of one plan key cannot share a day: add a new version "
                        "instead, or change the dates."
                    )
                }
            )


def _validate(contract: PayerContract) -> None:
    # the unique (key, effective_from) constraint is the overlap check's job, with a message
    contract.full_clean(validate_constraints=False)
    payer_contract_check_overlap(contract)


def _actor(user: Principal) -> Any:
    return None if isinstance(user, TokenPrincipal) or not user.is_authenticated else user


@transaction.atomic
def payer_contract_save(
    *,
    user: Principal,
    organization: Organization,
    contract: PayerContract | None = None,
    request: HttpRequest | None = None,
    **values: Any,
) -> PayerContract:
    """Create a contract version (`contract` None) or edit one in place with `values`
    (fields of `EDITABLE_FIELDS`). Editing a version's terms corrects it; a change of
    terms from a date on is `payer_contract_new_version`."""
    _check_values(values, EDITABLE_FIELDS)
    _require_editor(user, organization.pk)
    if contract is not None and contract.organization_id != organization.pk:
        raise PermissionDenied("A contract stays with its organization.")
    _lock_contracts(organization.pk)
    creating = contract is None
    if contract is None:
        contract = PayerContract(organization=organization, created_by=_actor(user))
    for name, value in values.items():
        setattr(contract, name, value)
    contract.updated_by = _actor(user)
    _validate(contract)
    contract.save()
    audit_record(
        actor=user,
        action=AuditEvent.Action.CREATE if creating else AuditEvent.Action.UPDATE,
        obj=contract,
        summary=f"Payer contract {contract.name} ({contract.plan_label}) "
        f"from {contract.effective_from}",
        request=request,
    )
    _reconcile_later(organization, user)
    return contract


def _reconcile_later(organization: Organization, user: Principal) -> None:
    """Terms changed: due dates and fee estimates change with them at the next run."""
    from reconciliation.services.runs import reconcile_request

    actor = _actor(user)
    transaction.on_commit(lambda: reconcile_request(organization=organization, created_by=actor))


@transaction.atomic
def payer_contract_new_version(
    *,
    user: Principal,
    contract: PayerContract,
    effective_from: date,
    effective_to: date | None = None,
    request: HttpRequest | None = None,
    **changes: Any,
) -> PayerContract:
    """A new version of `contract`'s key from `effective_from`: `contract`'s terms with
    `changes`. It must start after the key's latest version, which is closed the day
    before (when it was open or ran past that day). Returns the new version."""
    _check_values(changes, _TERM_FIELDS)
    _require_editor(user, contract.organization_id)
    _lock_contracts(contract.organization_id)
    versions = PayerContract.objects.filter(
        organization_id=contract.organization_id,
        bin=contract.bin,
        pcn=contract.pcn,
        group=contract.group,
    )
    latest = versions.order_by("-effective_from", "-pk").first() or contract
    if effective_from <= latest.effective_from:
        raise ValidationError(
            {
                "effective_from": (
                    f"A new version starts after the latest one, which starts "
                    f"{latest.effective_from.isoformat()}."
                )
            }
        )
    new = PayerContract(
        organization_id=contract.organization_id,
        bin=contract.bin,
        pcn=contract.pcn,
        group=contract.group,
        effective_from=effective_from,
        effective_to=effective_to,
        created_by=_actor(user),
        updated_by=_actor(user),
        **{name: getattr(contract, name) for name in _TERM_FIELDS},
    )
    for name, value in changes.items():
        setattr(new, name, value)
    new.full_clean(validate_constraints=False)  # field errors first, before closing anything
    closes = latest.effective_to is None or latest.effective_to >= effective_from
    if closes:
        latest.effective_to = effective_from - timedelta(days=1)
        latest.updated_by = _actor(user)
        latest.save(update_fields=["effective_to", "updated_by", "updated_at"])
    payer_contract_check_overlap(new)
    new.save()
    if closes:
        audit_record(
            actor=user,
            action=AuditEvent.Action.UPDATE,
            obj=latest,
            summary=f"Payer contract {latest.name} ({latest.plan_label}) closed on "
            f"{latest.effective_to} by a new version",
            request=request,
        )
    audit_record(
        actor=user,
        action=AuditEvent.Action.CREATE,
        obj=new,
        summary=f"Payer contract {new.name} ({new.plan_label}): new version from {effective_from}",
        request=request,
    )
    _reconcile_later(new.organization, user)
    return new


# -- the demo chain's contracts ------------------------------------------------------------------


def _percent(fraction: Any) -> Decimal:
    """A catalog fraction (0.035) as a contract percent (3.500)."""
    return (Decimal(str(fraction)) * 100).quantize(Decimal("0.001"))


def demo_contract_values(payer: Mapping[str, Any]) -> dict[str, Any]:
    """A demo payer (the fields of `demo.world.model.Payer`, e.g. `dataclasses.asdict`)
    as contract values:
    - brand: AWP minus `brand_awp_discount` + `dispensing_fee_cents`;
    - generic: NADAC plus (`generic_mac_factor` - 1) for Medicaid (state plans price
      generics at NADAC), else MAC (the PBM's MAC list is not known, so the adjudicated
      ingredient stands and the fee is checked), + `dispensing_fee_cents`;
    - fees: `transaction_fee_cents` + `network_fee_cents` per claim, and
      `performance_fee_pct` (a fraction) of the ingredient cost paid;
    - payment: paid on Fridays every `pay_cycle_days` from the year's first Friday, on the
      first pay day at least `pay_lag_days` after the date of service; overdue once two
      cycles have passed with no payment (grace of two cycles less a day)."""
    medicaid = payer.get("plan_type") == "medicaid"
    fee = int(payer.get("dispensing_fee_cents", 0))
    cycle = int(payer.get("pay_cycle_days", 0))
    notes = ["Demo terms, from the simulated world's payer catalog."]
    if payer.get("dir_on_claim"):
        notes.append("DIR is withheld on the remittance (CAS CO-295), not on a statement.")
    return {
        "name": f"{payer['name']} network agreement ({payer.get('group') or 'all groups'})",
        "payer_name": payer["name"],
        "bin": payer["bin"],
        "pcn": payer.get("pcn") or core.WILDCARD,
        "group": payer.get("group") or core.WILDCARD,
        "contract_type": payer.get("contract") or core.FFS,
        "brand_basis": core.AWP_MINUS,
        "brand_percent": _percent(payer.get("brand_awp_discount", 0)),
        "brand_dispensing_fee_cents": fee,
        "generic_basis": core.NADAC_PLUS if medicaid else core.MAC,
        "generic_percent": (
            _percent(Decimal(str(payer.get("generic_mac_factor", 1))) - 1)
            if medicaid
            else Decimal(0)
        ),
        "generic_dispensing_fee_cents": fee,
        "lesser_of_usual_customary": True,
        "fee_per_claim_cents": int(payer.get("transaction_fee_cents", 0))
        + int(payer.get("network_fee_cents", 0)),
        "fee_pct_of_ingredient": _percent(payer.get("performance_fee_pct", 0)),
        "days_to_pay": int(payer.get("pay_lag_days", 0)),
        "grace_days": max(2 * cycle - 1, 0),
        "pay_cycle_days": cycle,
        "pay_cycle_anchor": None,  # set by the caller: the year's first Friday
        "notes": " ".join(notes),
    }


@transaction.atomic
def demo_payer_contracts_create(
    organization: Organization,
    payers: Iterable[Mapping[str, Any]],
    *,
    effective_from: date | None = None,
) -> list[PayerContract]:
    """One open contract version per demo payer with a BIN (cash has none), from
    `effective_from` (default: January 1 of this year; pass the simulated year's first
    day). Rerunning it updates those versions in place. No user: this is seeding."""
    start = effective_from or date(timezone.localdate().year, 1, 1)
    _lock_contracts(organization.pk)
    out = []
    for payer in payers:
        if not str(payer.get("bin") or "").strip():
            continue
        values = demo_contract_values(payer)
        contract = PayerContract.objects.filter(
            organization=organization,
            bin=values["bin"],
            pcn=core.normalize_code(values["pcn"]),
            group=core.normalize_code(values["group"]),
            effective_from=start,
        ).first() or PayerContract(organization=organization)
        for name, value in values.items():
            setattr(contract, name, value)
        if contract.pay_cycle_days:  # the world's payers pay on Fridays from the first one
            contract.pay_cycle_anchor = start + timedelta(days=(4 - start.weekday()) % 7)
        contract.effective_from = start
        contract.effective_to = None
        _validate(contract)
        contract.save()
        out.append(contract)
    return out
