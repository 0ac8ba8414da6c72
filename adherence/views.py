"""Adherence pages: the technician's call lists, a patient's adherence card, a store's panel.

Every page takes `?date=YYYY-MM-DD` (default today) and `?location=<id>` (one of the user's
stores). Rows are read through the `…_for_user` selectors, so another store's item, patient
or store answers 404; writes go through `adherence.services.worklists`.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from adherence import medsync, timeline
from adherence.forms import GapReasonForm, OutreachForm, ScopeForm, SyncPlanForm
from adherence.measures import measure_year
from adherence.models import Outreach, WorklistItem
from adherence.selectors import (
    call_list_for_user,
    measure_rates_for_user,
    patient_enrollment,
    patient_fills,
    patient_gap_reasons,
    patient_items,
    patient_prescriptions,
    patient_results,
    patient_sync_meds,
    refill_queue_for_user,
    worklist_item_get_for_user,
    worklist_items_for_user,
    worklists_built_at_for_user,
)
from adherence.services.build import worklists_request
from adherence.services.worklists import (
    gap_reason_record,
    outreach_record,
    sync_enroll,
    sync_unenroll,
)
from claims.models import Patient
from claims.selectors import patient_get_for_user
from rxrevops.access import (
    location_get_for_user,
    location_list_for_user,
    organization_ids_administered_by,
    organization_list_for_user,
    user_has_role,
)
from rxrevops.models import AuditEvent, Role
from rxrevops.services.audit import audit_record
from rxrevops.web import nav_required, role_required

HOME_ROWS = 10  # refills and care gaps on the home page; the full lists are paginated
PER_PAGE = 50
ROW_TEMPLATES = {
    "call": "adherence/_call_row.html",
    "item": "adherence/_item_row.html",
    "card": "adherence/_card_item_row.html",
}
# outcome buttons in key order: 1 reached, no changes ... 5 ready to fill
OUTCOMES = list(enumerate(Outreach.Outcome.choices, start=1))
# the same five buttons on every row: rendered once, not once per row
OUTCOME_BUTTONS = format_html_join(
    "",
    '<button type="submit" name="outcome" value="{}" data-key="{}" title="Key {}">'
    "<kbd>{}</kbd> {}</button>",
    ((value, n, n, n, label) for n, (value, label) in OUTCOMES),
)


def _scope(request: HttpRequest) -> ScopeForm:
    return ScopeForm(request.GET, user=request.user)


def _base(scope: ScopeForm, **extra: Any) -> dict[str, Any]:
    return {
        "scope": scope,
        "on": scope.on,
        "outcomes": OUTCOMES,
        "outcome_buttons": OUTCOME_BUTTONS,
        **extra,
    }


@nav_required("adherence:index")
def index(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    on, location_id = scope.on, scope.location_id
    refills = worklist_items_for_user(
        request.user, kind=WorklistItem.Kind.REFILL, location_id=location_id
    )
    gaps = worklist_items_for_user(
        request.user, kind=WorklistItem.Kind.CARE_GAP, location_id=location_id
    )
    context = _base(
        scope,
        calls=call_list_for_user(request.user, on=on, location_id=location_id),
        call_window=(on, on + timedelta(days=medsync.CALL_EARLIEST_DAYS)),
        refills=refills[:HOME_ROWS],
        refill_count=refills.count(),
        gaps=gaps[:HOME_ROWS],
        gap_count=gaps.count(),
        queue_count=refill_queue_for_user(request.user, on=on, location_id=location_id).count(),
        built_at=worklists_built_at_for_user(request.user),
        can_rebuild=bool(organization_ids_administered_by(request.user)),
        locations=location_list_for_user(request.user).order_by("name"),
    )
    return render(request, "adherence/index.html", context)


@nav_required("adherence:index")
def worklist(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in WorklistItem.Kind.values:
        raise Http404("No such list.")
    scope = _scope(request)
    items = worklist_items_for_user(request.user, kind=kind, location_id=scope.location_id)
    page = Paginator(items, PER_PAGE).get_page(request.GET.get("page"))
    context = _base(
        scope,
        kind=kind,
        kind_label=WorklistItem.Kind(kind).label,
        page=page,
        query=scope.query(),
    )
    return render(request, "adherence/worklist.html", context)


@nav_required("adherence:index")
def refill_queue(request: HttpRequest) -> HttpResponse:
    scope = _scope(request)
    items = refill_queue_for_user(request.user, on=scope.on, location_id=scope.location_id)
    page = Paginator(items, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request, "adherence/refill_queue.html", _base(scope, page=page, query=scope.query())
    )


@nav_required("adherence:index")
@require_POST
def outreach(request: HttpRequest, item_id: int) -> HttpResponse:
    """Log one call. htmx gets the row back re-rendered; a plain form post goes back."""
    item = worklist_item_get_for_user(user=request.user, item_id=item_id)
    form = OutreachForm(request.POST)
    error = ""
    if form.is_valid():
        d = form.cleaned_data
        outreach_record(
            user=request.user, item=item, outcome=d["outcome"], note=d["note"], request=request
        )
    else:
        error = "Pick one of the five outcomes."
    if request.htmx:  # type: ignore[attr-defined]
        layout = form.cleaned_data.get("layout") or (
            "call" if item.kind == WorklistItem.Kind.MED_SYNC else "item"
        )
        on = form.cleaned_data.get("date") or timezone.localdate()
        context = {
            "item": item,
            "on": on,
            "outcome_buttons": OUTCOME_BUTTONS,
            "error": error,
            "next": _back(request, default=""),
        }
        # the row comes back even when the outcome was missing (htmx swaps only 2xx answers)
        return render(request, ROW_TEMPLATES[layout], context)
    if error:
        messages.error(request, error)
    else:
        label = Outreach.Outcome(form.cleaned_data["outcome"]).label
        messages.success(request, f"{item.patient.last_name}: {label}.")
    return redirect(_back(request, default=reverse("adherence:index")))


def _back(request: HttpRequest, *, default: str) -> str:
    target = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if target and safe else default


@role_required(Role.OWNER)
@require_POST
def rebuild(request: HttpRequest) -> HttpResponse:
    """Queue a worklist build as of today for each organization the owner administers."""
    organizations = organization_list_for_user(request.user).filter(
        pk__in=organization_ids_administered_by(request.user)
    )
    jobs = [worklists_request(organization=o, created_by=request.user) for o in organizations]
    if not jobs:
        raise PermissionDenied("Only an owner of every store of a chain rebuilds its lists.")
    if len(jobs) == 1:
        return redirect("job_detail", job_id=jobs[0].pk)
    return redirect("job_list")


# -- the patient card ----------------------------------------------------------------------


def _measure_choices(year: int) -> list[tuple[str, str]]:
    try:
        return [(m.code, f"{m.code}: {m.name}") for m in measure_year(year).measures]
    except LookupError:
        return []


def _card(
    request: HttpRequest,
    patient: Patient,
    *,
    scope: ScopeForm,
    gap_form: GapReasonForm | None = None,
    sync_form: SyncPlanForm | None = None,
    status: int = 200,
) -> HttpResponse:
    on = scope.on
    try:
        timelines = timeline.measure_timelines(
            patient_fills(patient.pk, since=date(on.year, 1, 1), until=on),
            year=on.year,
            as_of=on,
        )
        no_value_sets = False
    except LookupError:
        timelines, no_value_sets = [], True
    enrollment = patient_enrollment(patient.pk)
    if sync_form is None:
        sync_form = _sync_form(request, patient, on=on)
    audit_record(actor=request.user, action=AuditEvent.Action.VIEW, obj=patient, request=request)
    context = _base(
        scope,
        patient=patient,
        year=on.year,
        results=patient_results(patient.pk, year=on.year),
        timelines=timelines,
        figure=timeline.timeline_figure(timelines, as_of=on) if timelines else None,
        no_value_sets=no_value_sets,
        items=patient_items(patient.pk).prefetch_related("outreach__by"),
        gap_reasons=patient_gap_reasons(patient.pk),
        gap_form=gap_form
        or GapReasonForm(initial={"starts_on": on}, measures=_measure_choices(on.year)),
        enrollment=enrollment,
        next_sync=(
            medsync.sync_date_on_or_after(enrollment.first_sync_date, enrollment.cycle_days, on)
            if enrollment and enrollment.active and enrollment.cycle_days in medsync.CYCLES
            else None
        ),
        sync_form=sync_form,
        plan=sync_form.plan() if sync_form else None,
        # the pharmacist's links to record a dose (the clinical app serves the form)
        can_immunize=user_has_role(request.user, Role.OWNER, Role.PHARMACIST),
    )
    return render(request, "adherence/patient_card.html", context, status=status)


def _sync_form(
    request: HttpRequest, patient: Patient, *, on: date, data: Any = None
) -> SyncPlanForm | None:
    try:
        meds, default_keys = patient_sync_meds(patient.pk, as_of=on)
    except LookupError:
        return None
    if not meds:
        return None
    return SyncPlanForm(data, meds=meds, default_keys=default_keys, today=on)


@nav_required("adherence:index")
@require_GET
def patient_card(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_get_for_user(user=request.user, patient_id=patient_id)
    scope = _scope(request)
    sync_form = None
    if "sync_preview" in request.GET:  # the enrol form's Preview button without JavaScript
        sync_form = _sync_form(request, patient, on=scope.on, data=request.GET)
    return _card(request, patient, scope=scope, sync_form=sync_form)


@nav_required("adherence:index")
@require_GET
def sync_preview(request: HttpRequest, patient_id: int) -> HttpResponse:
    """The enrol form's alignment preview, re-rendered as the form changes (htmx)."""
    patient = patient_get_for_user(user=request.user, patient_id=patient_id)
    scope = _scope(request)
    form = _sync_form(request, patient, on=scope.on, data=request.GET)
    plan = form.plan() if form else None
    return render(request, "adherence/_sync_preview.html", {"plan": plan, "sync_form": form})


def _card_url(patient: Patient, scope: ScopeForm) -> str:
    return f"{reverse('adherence:patient_card', args=[patient.pk])}?{scope.query()}"


@nav_required("adherence:index")
@require_POST
def gap_reason_add(request: HttpRequest, patient_id: int) -> HttpResponseBase:
    patient = patient_get_for_user(user=request.user, patient_id=patient_id)
    scope = _scope(request)
    form = GapReasonForm(request.POST, measures=_measure_choices(scope.on.year))
    if form.is_valid():
        d = form.cleaned_data
        try:
            gap_reason_record(
                user=request.user,
                patient=patient,
                reason=d["reason"],
                measure=d["measure"],
                starts_on=d["starts_on"],
                ends_on=d["ends_on"],
                note=d["note"],
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Gap reason recorded.")
            return redirect(_card_url(patient, scope))
    return _card(request, patient, scope=scope, gap_form=form, status=400)


@nav_required("adherence:index")
@require_POST
def sync_enroll_view(request: HttpRequest, patient_id: int) -> HttpResponseBase:
    patient = patient_get_for_user(user=request.user, patient_id=patient_id)
    scope = _scope(request)
    form = _sync_form(request, patient, on=scope.on, data=request.POST)
    plan = form.plan() if form else None
    if form is None or plan is None:
        return _card(request, patient, scope=scope, sync_form=form, status=400)
    prescriptions = {str(rx.pk): rx for rx in patient_prescriptions(patient.pk)}
    try:
        sync_enroll(
            user=request.user,
            patient=patient,
            first_sync_date=plan.sync_date,
            cycle_days=plan.cycle_days,
            prescriptions=[prescriptions[m.key] for m in plan.meds],
            anchor=prescriptions[plan.anchor.key] if plan.anchor else None,
            request=request,
        )
    except ValidationError as exc:
        form.add_error(None, exc)
        return _card(request, patient, scope=scope, sync_form=form, status=400)
    messages.success(
        request,
        f"Enrolled in med sync every {plan.cycle_days} days from {plan.sync_date:%b} "
        f"{plan.sync_date.day}: the call appears on the list a week before.",
    )
    return redirect(_card_url(patient, scope))


@nav_required("adherence:index")
@require_POST
def sync_stop(request: HttpRequest, patient_id: int) -> HttpResponseBase:
    patient = patient_get_for_user(user=request.user, patient_id=patient_id)
    enrollment = patient_enrollment(patient.pk)
    if enrollment is None or not enrollment.active:
        raise Http404("Not enrolled in med sync.")
    sync_unenroll(user=request.user, enrollment=enrollment, request=request)
    messages.success(request, "Med sync stopped; open med-sync calls are off the list.")
    return redirect(_card_url(patient, _scope(request)))


# -- the location panel --------------------------------------------------------------------


@nav_required("adherence:index")
def location_panel(request: HttpRequest, location_id: int) -> HttpResponse:
    location = location_get_for_user(user=request.user, location_id=location_id)
    scope = _scope(request)
    rates = list(
        measure_rates_for_user(request.user, year=scope.on.year, location_id=location.pk).filter(
            as_of__lte=scope.on
        )
    )
    latest = {r.measure: r for r in rates}  # ordered by as_of: the last one per measure wins
    points = [timeline.RatePoint(r.measure, r.as_of, r.measured, r.adherent) for r in rates]
    counts = {
        label: worklist_items_for_user(request.user, kind=kind, location_id=location.pk).count()
        for kind, label in WorklistItem.Kind.choices
    }
    context = _base(
        scope,
        location=location,
        hide_location=True,  # the panel is one store's
        year=scope.on.year,
        latest=sorted(latest.values(), key=lambda r: r.measure),
        figure=timeline.rate_trend_figure(points) if points else None,
        counts=counts,
    )
    return render(request, "adherence/location_panel.html", context)
