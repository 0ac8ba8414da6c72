"""Staff metrics: per store and staff member, the work that earns the chain money, counted
from the facts each app records with who and when.

- med-sync enrollments: active-or-not plans a staff member enrolled in RxRevOps (not those
  flagged in a PMS export), by the day they were enrolled;
- CMRs completed: comprehensive medication reviews signed for the first time (an amendment
  is not a second CMR), by the signing day;
- immunizations given: doses by the day given, credited to the administering user;
- exceptions resolved: reconciliation cases a staff member moved to "resolved" that are
  still resolved, by the day of that step;
- recovered dollars: of those cases, the dollars at stake when the case was opened less what
  is still at stake on the claim's latest result (never below zero): what the work won back.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import BigIntegerField, Case, Count, F, OuterRef, Subquery, When
from django.http import Http404

from adherence.models import SyncEnrollment
from clinical.models import Encounter, Immunization
from reconciliation.case_models import CaseNote, ExceptionCase
from reconciliation.models import ClaimResult
from reconciliation.result_selectors import EXCEPTION_KINDS, stake_expression
from rxrevops.access import Principal, location_ids_for_user
from rxrevops.models import Location

STAFF_FIGURES = ("sync_enrollments", "cmrs", "immunizations", "resolved", "recovered_cents")


@dataclass
class StaffRow:
    location_id: int
    location: str
    user_id: int | None
    name: str
    sync_enrollments: int = 0
    cmrs: int = 0
    immunizations: int = 0
    resolved: int = 0
    recovered_cents: int = 0


@dataclass
class StaffReport:
    rows: list[StaffRow] = field(default_factory=list)
    per_location: list[StaffRow] = field(default_factory=list)
    totals: StaffRow | None = None


def _counts(qs: Any, user_field: str) -> dict[tuple[int, int | None], int]:
    return {
        (r["location_id"], r["who"]): r["n"]
        for r in qs.order_by().values("location_id", who=F(user_field)).annotate(n=Count("pk"))
    }


def _recovered(cases: Any) -> dict[tuple[int, int | None], tuple[int, int]]:
    """{(store, user): (cases, cents recovered)} of cases resolved (and still resolved)."""
    out: dict[tuple[int, int | None], list[int]] = defaultdict(lambda: [0, 0])
    for case in cases:
        now = case["stake_now"]
        still = max(0, now) if now is not None else 0
        key = (case["location_id"], case["who"])
        out[key][0] += 1
        out[key][1] += max(0, case["amount_cents"] - still)
    return {k: (v[0], v[1]) for k, v in out.items()}


def staff_metrics_for_user(
    user: Principal, *, start: date, end: date, location: int | None = None
) -> StaffReport:
    """The staff metrics of the dates `start`..`end` in the principal's stores (see the module
    doc), per staff member per store, per store, and in total."""
    visible = set(location_ids_for_user(user, roles=("owner",)))
    if location is not None:
        if location not in visible:
            raise Http404("Not found")
        visible = {location}
    where = {"location_id__in": visible}
    enrollments = _counts(
        SyncEnrollment.objects.filter(
            **where,
            source=SyncEnrollment.Source.STAFF,
            enrolled_at__date__gte=start,
            enrolled_at__date__lte=end,
        ),
        "enrolled_by_id",
    )
    cmrs = _counts(
        Encounter.objects.filter(
            **where,
            kind=Encounter.Kind.CMR,
            version=1,
            status=Encounter.Status.SIGNED,
            signed_at__date__gte=start,
            signed_at__date__lte=end,
        ),
        "signed_by_id",
    )
    doses = _counts(
        Immunization.objects.filter(**where, administered_on__gte=start, administered_on__lte=end),
        "administered_by_id",
    )
    # the step that resolved each case, when it is still resolved
    resolving = CaseNote.objects.filter(
        case=OuterRef("pk"), status_to=ExceptionCase.Status.RESOLVED
    ).order_by("-at", "-pk")
    resolved_cases = (
        ExceptionCase.objects.filter(**where, status=ExceptionCase.Status.RESOLVED)
        .annotate(
            resolved_at=Subquery(resolving.values("at")[:1]),
            who=Subquery(resolving.values("author_id")[:1]),
        )
        .filter(resolved_at__date__gte=start, resolved_at__date__lte=end)
    )
    cases = list(resolved_cases.values("location_id", "who", "amount_cents", "kind", "fill_id"))
    # what is still at stake on each claim's latest result, by the kind the case was opened as
    stake_now = Case(
        *[When(fill__case__kind=k, then=stake_expression(k)) for k in EXCEPTION_KINDS],
        output_field=BigIntegerField(),
    )
    now = dict(
        ClaimResult.objects.filter(fill_id__in=[c["fill_id"] for c in cases])
        .annotate(s=stake_now)
        .values_list("fill_id", "s")
    )
    recovered = _recovered([{**c, "stake_now": now.get(c["fill_id"])} for c in cases])

    keys = set(enrollments) | set(cmrs) | set(doses) | set(recovered)
    user_ids = {u for _, u in keys if u is not None}
    names = {
        u.pk: (u.get_full_name() or u.get_username())
        for u in get_user_model().objects.filter(pk__in=user_ids)
    }
    stores = dict(Location.objects.filter(pk__in=visible).values_list("pk", "name"))
    rows = []
    for loc, who in keys:
        rows.append(
            StaffRow(
                location_id=loc,
                location=stores.get(loc, str(loc)),
                user_id=who,
                name=names.get(who, "(not recorded)") if who is not None else "(not recorded)",
                sync_enrollments=enrollments.get((loc, who), 0),
                cmrs=cmrs.get((loc, who), 0),
                immunizations=doses.get((loc, who), 0),
                resolved=recovered.get((loc, who), (0, 0))[0],
                recovered_cents=recovered.get((loc, who), (0, 0))[1],
            )
        )
    rows.sort(key=lambda r: (r.location.lower(), r.name.lower()))
    per_location: dict[int, StaffRow] = {
        loc: StaffRow(location_id=loc, location=name, user_id=None, name="All staff")
        for loc, name in stores.items()
    }
    total = StaffRow(location_id=0, location="All stores", user_id=None, name="All staff")
    for r in rows:
        for target in (per_location[r.location_id], total):
            for name in STAFF_FIGURES:
                setattr(target, name, getattr(target, name) + getattr(r, name))
    return StaffReport(
        rows=rows,
        per_location=sorted(per_location.values(), key=lambda r: r.location.lower()),
        totals=total,
    )
