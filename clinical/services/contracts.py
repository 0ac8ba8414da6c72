"""Writing value-based contracts: the terms an owner enters, and the demo chain's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from claims.models import Fill, Plan
from clinical.models import ContractMeasure, ValueBasedContract
from rxrevops.models import Location, Organization


@dataclass(frozen=True)
class MeasureTerm:
    measure: str
    threshold_percent: Decimal
    bonus_cents: int
    weight: int | None = None


@transaction.atomic
def contract_save(
    *,
    organization: Organization,
    name: str,
    payer_name: str,
    bin: str,
    measurement_year: int,
    effective_from: date,
    measures: Sequence[MeasureTerm],
    pcn: str = "*",
    group: str = "*",
    effective_to: date | None = None,
    pmpm_cents: int = 0,
    notes: str = "",
    contract: ValueBasedContract | None = None,
) -> ValueBasedContract:
    """Create `contract` (or update it) with exactly these measure terms; validates the
    fields (ValidationError) and replaces the measures, so saving twice changes nothing."""
    contract = contract or ValueBasedContract(organization=organization)
    contract.organization = organization
    contract.name = name
    contract.payer_name = payer_name
    contract.bin = bin.strip()
    contract.pcn = pcn
    contract.group = group
    contract.measurement_year = measurement_year
    contract.effective_from = effective_from
    contract.effective_to = effective_to
    contract.pmpm_cents = pmpm_cents
    contract.notes = notes
    contract.full_clean()
    contract.save()
    rows = [
        ContractMeasure(
            contract=contract,
            measure=m.measure,
            threshold_percent=m.threshold_percent,
            bonus_cents=m.bonus_cents,
            weight=m.weight,
        )
        for m in measures
    ]
    for row in rows:
        row.full_clean(exclude=["contract"], validate_unique=False)
    contract.measures.all().delete()
    ContractMeasure.objects.bulk_create(rows)
    return contract


# Demo terms, shaped like real pharmacy quality programs: a Part D plan paying a bonus per
# Star measure met at 4-star-like cut points, and a commercial plan paying a care-management
# fee per member per month plus bonuses for adherence and flu shots.
_STAR_TERMS = (
    MeasureTerm("PDC-DR", Decimal("85.00"), 250_000, weight=3),
    MeasureTerm("PDC-RASA", Decimal("88.00"), 250_000, weight=3),
    MeasureTerm("PDC-STA", Decimal("87.00"), 250_000, weight=3),
    MeasureTerm("SUPD", Decimal("84.00"), 100_000, weight=1),
    MeasureTerm("CMR", Decimal("70.00"), 150_000, weight=1),
)
_COMMERCIAL_TERMS = (
    MeasureTerm("PDC-RASA", Decimal("82.00"), 120_000),
    MeasureTerm("PDC-STA", Decimal("82.00"), 120_000),
    MeasureTerm("IMM-FLU", Decimal("45.00"), 80_000),
)


def demo_contracts_create(organization: Organization) -> list[ValueBasedContract]:
    """One contract per value-based plan family (BIN + PCN) the organization's fills use,
    at most two, for the year of its latest fill; rerunning it updates them in place."""
    stores = Location.objects.filter(organization=organization).values("pk")
    fills = Fill.objects.filter(location_id__in=stores)
    latest = fills.aggregate(on=Max("date_of_service"))["on"] or timezone.localdate()
    year = latest.year
    plans = Plan.objects.filter(
        contract_type="value_based", pk__in=fills.values("plan_id").distinct()
    ).order_by("bin", "pcn", "group")
    families: dict[tuple[str, str], Plan] = {}
    for plan in plans:
        families.setdefault((plan.bin, plan.pcn), plan)
    out = []
    for (bin_, pcn), plan in list(families.items())[:2]:
        payer = plan.name or f"BIN {bin_}"
        medicare = any(word in payer.lower() for word in ("medicare", "part d"))
        name = f"{payer} {'Star pharmacy partnership' if medicare else 'value partnership'}"
        existing = ValueBasedContract.objects.filter(
            organization=organization, name=name, measurement_year=year
        ).first()
        out.append(
            contract_save(
                organization=organization,
                name=name,
                payer_name=payer,
                bin=bin_,
                pcn=pcn or "*",
                group="*",
                measurement_year=year,
                effective_from=date(year, 1, 1),
                effective_to=date(year, 12, 31),
                pmpm_cents=0 if medicare else 150,
                measures=_STAR_TERMS if medicare else _COMMERCIAL_TERMS,
                notes=(
                    "Demo terms: bonus per measure met at the year-end rate."
                    if medicare
                    else "Demo terms: $1.50 per member per month plus quality bonuses."
                ),
                contract=existing,
            )
        )
    return out
