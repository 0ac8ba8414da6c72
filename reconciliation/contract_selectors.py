"""Reading payer contracts: the list and detail pages, and the engine's terms.

Contracts are the organization's: only principals whose access spans the whole organization
see them (`OrganizationScopedQuerySet`); one of another organization is a 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import QuerySet
from django.utils import timezone

from reconciliation.contract_models import PayerContract
from reconciliation.engine import contracts as core
from rxrevops.access import Principal, object_get_for_user, org_wide_organization_ids_for_user
from rxrevops.models import Organization


def payer_contracts_for_user(user: Principal) -> QuerySet[PayerContract]:
    """Every version of every contract the principal may see, grouped by payer and key,
    newest version first."""
    return (
        PayerContract.objects.for_user(user)
        .select_related("organization")
        .order_by("payer_name", "bin", "pcn", "group", "organization_id", "-effective_from", "pk")
    )


def payer_contract_get_for_user(*, user: Principal, contract_id: int) -> PayerContract:
    """The contract version, if the principal's access spans its organization; else 404."""
    contract: PayerContract = object_get_for_user(
        PayerContract.objects.select_related("organization", "created_by", "updated_by"),
        user=user,
        pk=contract_id,
    )
    return contract


def payer_contract_versions(contract: PayerContract) -> QuerySet[PayerContract]:
    """Every version of the contract's key (organization, BIN, PCN, group), newest first."""
    return PayerContract.objects.filter(
        organization_id=contract.organization_id,
        bin=contract.bin,
        pcn=contract.pcn,
        group=contract.group,
    ).order_by("-effective_from", "-pk")


def contract_terms(contract: PayerContract) -> core.ContractTerms:
    """One version as the engine's dataclass."""
    return core.ContractTerms(
        contract_id=contract.pk,
        bin=contract.bin,
        pcn=contract.pcn,
        group=contract.group,
        effective_from=contract.effective_from,
        effective_to=contract.effective_to,
        contract_type=contract.contract_type,
        brand=core.Reimbursement(
            basis=contract.brand_basis,
            percent=contract.brand_percent,
            dispensing_fee_cents=contract.brand_dispensing_fee_cents,
        ),
        generic=core.Reimbursement(
            basis=contract.generic_basis,
            percent=contract.generic_percent,
            dispensing_fee_cents=contract.generic_dispensing_fee_cents,
        ),
        lesser_of_usual=contract.lesser_of_usual_customary,
        fees=core.FeeTerms(
            per_claim_cents=contract.fee_per_claim_cents,
            pct_of_ingredient=contract.fee_pct_of_ingredient,
            pct_of_plan_paid=contract.fee_pct_of_plan_paid,
            generic_effective_rate=contract.generic_effective_rate,
            brand_effective_rate=contract.brand_effective_rate,
        ),
        payment=core.PaymentTerms(
            days_to_pay=contract.days_to_pay,
            grace_days=contract.grace_days,
            cycle_days=contract.pay_cycle_days,
            cycle_anchor=contract.pay_cycle_anchor,
        ),
        name=contract.name,
    )


def contracts_in_effect(
    organization_id: int, *, since: date | None = None, until: date | None = None
) -> list[core.ContractTerms]:
    """Every contract version of the organization, as the engine's dataclasses, for
    `core.contract_for(plan, date_of_service, contracts)` to pick from per claim. With
    `since`/`until`, only versions in effect on some day of that range (the engine's run
    window); the engine must not filter by "today": a claim is priced by the version in
    effect on its date of service."""
    qs = PayerContract.objects.filter(organization_id=organization_id)
    if until is not None:
        qs = qs.filter(effective_from__lte=until)
    if since is not None:
        qs = qs.exclude(effective_to__lt=since)
    return [contract_terms(c) for c in qs.order_by("bin", "effective_from", "pk")]


@dataclass(frozen=True)
class ContractRow:
    """The list page's row: one contract key, with the version in effect today (or, when
    none is, the latest) and how many versions it has."""

    current: PayerContract
    in_effect: bool
    versions: int
    upcoming: PayerContract | None  # a version that starts after today
    brand: str  # the reimbursement terms, short ("AWP - 17% + $1.25")
    generic: str
    fees: str


def contract_rows_for_user(user: Principal, *, today: date | None = None) -> list[ContractRow]:
    today = today or timezone.localdate()
    groups: dict[tuple[int, str, str, str], list[PayerContract]] = {}
    for c in payer_contracts_for_user(user):
        groups.setdefault((c.organization_id, *c.key), []).append(c)
    rows = []
    for versions in groups.values():  # newest first within a key
        effective = [v for v in versions if core.in_effect(contract_terms(v), today)]
        later = [v for v in versions if v.effective_from > today]
        current = effective[0] if effective else versions[0]
        terms = contract_terms(current)
        rows.append(
            ContractRow(
                current=current,
                in_effect=bool(effective),
                versions=len(versions),
                upcoming=later[-1] if later and later[-1] is not current else None,
                brand=core.reimbursement_short(terms.brand),
                generic=core.reimbursement_short(terms.generic),
                fees=core.fees_short(terms.fees),
            )
        )
    return rows


@dataclass(frozen=True)
class TermsInWords:
    brand: str
    generic: str
    fees: list[str]
    payment: str


def contract_terms_in_words(contract: PayerContract) -> TermsInWords:
    t = contract_terms(contract)
    return TermsInWords(
        brand=core.reimbursement_in_words(t.brand, lesser_of_usual=t.lesser_of_usual),
        generic=core.reimbursement_in_words(t.generic, lesser_of_usual=t.lesser_of_usual),
        fees=core.fees_in_words(t.fees),
        payment=core.payment_in_words(t.payment),
    )


def organizations_for_contracts(user: Principal) -> QuerySet[Organization]:
    """The organizations the principal may add contracts to (those its access spans)."""
    return Organization.objects.filter(pk__in=org_wide_organization_ids_for_user(user)).order_by(
        "name"
    )
