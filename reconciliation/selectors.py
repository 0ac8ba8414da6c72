"""Read side of remittances: what a principal may see, filtered, and one remittance with its
claims, lines and adjustments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from django.db.models import Prefetch, Q

from reconciliation.models import Adjustment, ClaimPayment, Remittance, ServicePayment
from reconciliation.x12 import X12Error, segments
from rxrevops.access import Principal, object_get_for_user
from rxrevops.services.imports import import_file_path


@dataclass(frozen=True)
class RemittanceFilters:
    location: int | None = None
    payer: str = ""  # payer name or id, start of
    status: str = ""  # "balanced" | "flagged"
    since: date | None = None
    until: date | None = None
    trace: str = ""
    job: int | None = None
    superseded: bool = False  # include replaced versions


def remittance_list_for_user(user: Principal, filters: RemittanceFilters | None = None) -> Any:
    """Payments the principal may see (a store's, or the organization's for org-wide users),
    newest payment first."""
    f = filters or RemittanceFilters()
    qs = Remittance.objects.for_user(user).select_related("location")
    if not f.superseded:
        qs = qs.filter(superseded_by__isnull=True)
    if f.location:
        qs = qs.filter(location_id=f.location)
    if f.payer:
        qs = qs.filter(Q(payer_name__istartswith=f.payer) | Q(payer_id=f.payer))
    if f.status == "balanced":
        qs = qs.filter(balanced=True)
    elif f.status == "flagged":
        qs = qs.filter(balanced=False)
    if f.since:
        qs = qs.filter(payment_date__gte=f.since)
    if f.until:
        qs = qs.filter(payment_date__lte=f.until)
    if f.trace:
        qs = qs.filter(trace_number=f.trace)
    if f.job:
        qs = qs.filter(job_id=f.job)
    return qs.order_by("-payment_date", "-pk")


def remittance_get_for_user(*, user: Principal, remittance_id: int) -> Remittance:
    remittance: Remittance = object_get_for_user(
        Remittance.objects.select_related("location", "import_file", "superseded_by"),
        user=user,
        pk=remittance_id,
    )
    return remittance


def remittance_claims(remittance: Remittance) -> Any:
    """The remittance's claims in file order, with their lines and adjustments prefetched."""
    return (
        ClaimPayment.objects.filter(remittance=remittance)
        .order_by("position")
        .prefetch_related(
            Prefetch(
                "services",
                queryset=ServicePayment.objects.order_by("position").prefetch_related(
                    Prefetch("adjustments", queryset=Adjustment.objects.order_by("segment"))
                ),
            ),
            Prefetch(
                "adjustments",
                queryset=Adjustment.objects.filter(service__isnull=True).order_by("segment"),
                to_attr="claim_adjustments",
            ),
        )
    )


def remittance_raw_segments(remittance: Remittance) -> list[tuple[int, str]]:
    """The remittance's segments as they are in the stored file (ST..SE), numbered like the
    issues, elements joined with '*' and composites with ':' whatever the file used."""
    if remittance.import_file is None:
        return []
    path: Path = import_file_path(remittance.import_file)
    found: list[tuple[int, str]] = []
    try:
        for number, elements in segments(path):
            if number < remittance.first_segment:
                continue
            if number > remittance.last_segment:
                break
            found.append((number, "*".join(elements)))
    except X12Error:
        pass  # a loaded remittance was readable up to its SE; keep what was read
    return found
