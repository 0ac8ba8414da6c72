"""MTM pages: the pharmacist home, the encounter editor (autosaved drafts, sign-off,
amendments), the patient take-away (printable HTML and PDF), point-of-care tests and clinical
revenue per service.

Every object is fetched through a `…_for_user` selector (another store's is a 404); every
write is one service call.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from adherence.selectors import worklist_item_get_for_user
from claims.selectors import patient_get_for_user
from clinical import takeaway
from clinical.encounter_forms import (
    AmendForm,
    ClaimUpdateForm,
    EncounterForm,
    MedicationFormSet,
    PocTestForm,
    ProblemFormSet,
    filled_rows,
)
from clinical.encounter_selectors import (
    clinical_claim_get_for_user,
    clinical_claims_for_user,
    clinical_revenue_for_user,
    encounter_get_for_user,
    encounter_versions,
    encounters_current_for_user,
    pharmacist_day_for_user,
)
from clinical.models import ClinicalClaim, Encounter, RegistryMessage
from clinical.mtm import code_set
from clinical.registry_selectors import registry_status_counts_for_user
from clinical.selectors import immunizations_for_user
from clinical.services.billing import clinical_claim_update, poc_test_record
from clinical.services.encounters import (
    MEDICATION_FIELDS,
    PROBLEM_FIELDS,
    encounter_amend,
    encounter_discard,
    encounter_save,
    encounter_sign,
    encounter_start,
)
from rxrevops.web import nav_required

RECENT_IMMUNIZATIONS = 20


@nav_required("clinical:index")
def home(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    day = pharmacist_day_for_user(request.user, today=today)
    revenue = clinical_revenue_for_user(request.user, since=today.replace(month=1, day=1))
    context = {
        "day": day,
        "today": today,
        "revenue": revenue,
        "revenue_total": sum(r.billed_cents for r in revenue),
        "immunizations": immunizations_for_user(request.user)[:RECENT_IMMUNIZATIONS],
        # rejected or failed registry messages wait for the pharmacist
        "outbox_problems": sum(
            c.count
            for c in registry_status_counts_for_user(request.user)
            if c.status in (RegistryMessage.Status.REJECTED, RegistryMessage.Status.FAILED)
        ),
    }
    return render(request, "clinical/home.html", context)


@nav_required("clinical:index")
@require_POST
def encounter_new(request: HttpRequest, patient_id: int) -> HttpResponseBase:
    patient = patient_get_for_user(user=request.user, patient_id=patient_id)
    item = None
    raw = request.POST.get("item", "")
    if raw.isdigit():
        item = worklist_item_get_for_user(user=request.user, item_id=int(raw))
    try:
        enc = encounter_start(
            user=request.user,
            patient=patient,
            kind=request.POST.get("kind", Encounter.Kind.CMR),
            worklist_item=item,
            request=request,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("adherence:patient_card", patient_id=patient.pk)
    return redirect("clinical:encounter", encounter_id=enc.pk)


def _initial_rows(enc: Encounter, add: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    meds = [{f: getattr(m, f) for f in MEDICATION_FIELDS} for m in enc.medications.all()]
    probs = [{f: getattr(p, f) for f in PROBLEM_FIELDS} for p in enc.problems.all()]
    if add == "med":
        meds.append({"source": "otc"})
    if add == "problem":
        probs.append({})
    return meds, probs


def _editor_forms(
    request: HttpRequest, enc: Encounter, *, data: Any = None, add: str = ""
) -> tuple[EncounterForm, Any, Any]:
    if data is not None:
        return (
            EncounterForm(data, instance=enc),
            MedicationFormSet(data, prefix="med"),
            ProblemFormSet(data, prefix="problem"),
        )
    meds, probs = _initial_rows(enc, add)
    return (
        EncounterForm(instance=enc),
        MedicationFormSet(initial=meds, prefix="med"),
        ProblemFormSet(initial=probs, prefix="problem"),
    )


def _editor(
    request: HttpRequest,
    enc: Encounter,
    forms: tuple[EncounterForm, Any, Any] | None = None,
    *,
    add: str = "",
    sign_errors: dict[str, list[str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    form, meds, probs = forms or _editor_forms(request, enc, add=add)
    context = {
        "enc": enc,
        "patient": enc.patient,
        "form": form,
        "meds": meds,
        "problems": probs,
        "versions": encounter_versions(enc.series),
        "sign_errors": sign_errors or {},
        "codes": code_set(),
        "amend_form": AmendForm(),
        "add": add,
    }
    return render(request, "clinical/encounter.html", context, status=status)


def _save(request: HttpRequest, enc: Encounter) -> tuple[bool, tuple[EncounterForm, Any, Any]]:
    """Save the posted editor; (saved?, the bound forms with any errors)."""
    forms = _editor_forms(request, enc, data=request.POST)
    form, meds, probs = forms
    if not (form.is_valid() and meds.is_valid() and probs.is_valid()):
        return False, forms
    fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
    try:
        encounter_save(
            user=request.user,
            encounter=enc,
            fields=fields,
            medications=filled_rows(meds),
            problems=filled_rows(probs),
            request=request,
        )
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            target = field if field in form.fields else None
            form.add_error(target, [f"{field}: {e}" if target is None else e for e in errors])
        return False, forms
    return True, forms


@nav_required("clinical:index")
def encounter(request: HttpRequest, encounter_id: int) -> HttpResponseBase:
    enc = encounter_get_for_user(user=request.user, encounter_id=encounter_id)
    if request.method == "POST":
        if enc.is_signed:
            return _editor(request, enc, status=409)
        saved, forms = _save(request, enc)
        if not saved:
            return _editor(request, enc, forms, status=400)
        add = request.POST.get("add", "")
        if add in ("med", "problem"):
            url = reverse("clinical:encounter", args=[enc.pk])
            return redirect(f"{url}?add={add}#{'meds' if add == 'med' else 'problems'}")
        if request.POST.get("then") == "sign":
            return _sign(request, enc)
        messages.success(request, "Draft saved.")
        return redirect("clinical:encounter", encounter_id=enc.pk)
    return _editor(request, enc, add=request.GET.get("add", ""))


@nav_required("clinical:index")
@require_POST
def encounter_autosave(request: HttpRequest, encounter_id: int) -> HttpResponse:
    """htmx: save the draft as the pharmacist types; answers the status line only."""
    enc = encounter_get_for_user(user=request.user, encounter_id=encounter_id)
    if enc.is_signed:
        context = {"ok": False, "problem": "This version is signed; amend it to change it."}
        return render(request, "clinical/_autosave.html", context, status=409)
    saved, (form, meds, probs) = _save(request, enc)
    problems = []
    if not saved:
        for f in (form, *meds.forms, *probs.forms):
            for field, errors in f.errors.items():
                label = f.fields[field].label if field in f.fields else ""
                problems += [f"{label or field}: {e}" for e in errors]
        problems += [str(e) for e in meds.non_form_errors() + probs.non_form_errors()]
    context = {"ok": saved, "at": timezone.localtime(), "problem": "; ".join(problems)}
    return render(request, "clinical/_autosave.html", context, status=200 if saved else 400)


def _sign(request: HttpRequest, enc: Encounter) -> HttpResponseBase:
    try:
        encounter_sign(user=request.user, encounter=enc, request=request)
    except ValidationError as exc:
        enc.refresh_from_db()
        return _editor(request, enc, sign_errors=exc.message_dict, status=400)
    messages.success(
        request,
        f"{enc.get_kind_display()} signed and billed. The take-away is ready to print.",
    )
    return redirect("clinical:encounter", encounter_id=enc.pk)


@nav_required("clinical:index")
@require_POST
def encounter_sign_view(request: HttpRequest, encounter_id: int) -> HttpResponseBase:
    enc = encounter_get_for_user(user=request.user, encounter_id=encounter_id)
    if enc.is_signed:
        messages.info(request, "This version is already signed.")
        return redirect("clinical:encounter", encounter_id=enc.pk)
    return _sign(request, enc)


@nav_required("clinical:index")
@require_POST
def encounter_amend_view(request: HttpRequest, encounter_id: int) -> HttpResponseBase:
    enc = encounter_get_for_user(user=request.user, encounter_id=encounter_id)
    form = AmendForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError({"amendment_reason": "Say why the signed record is amended."})
        copy = encounter_amend(
            user=request.user, encounter=enc, reason=form.cleaned_data["reason"], request=request
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("clinical:encounter", encounter_id=enc.pk)
    return redirect("clinical:encounter", encounter_id=copy.pk)


@nav_required("clinical:index")
@require_POST
def encounter_discard_view(request: HttpRequest, encounter_id: int) -> HttpResponseBase:
    enc = encounter_get_for_user(user=request.user, encounter_id=encounter_id)
    patient_id = enc.patient_id
    try:
        encounter_discard(user=request.user, encounter=enc, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("clinical:encounter", encounter_id=enc.pk)
    messages.success(request, "Draft discarded.")
    return redirect("adherence:patient_card", patient_id=patient_id)


def _takeaway(enc: Encounter) -> takeaway.TakeAway:
    p, loc = enc.patient, enc.location
    pharmacist = enc.signed_by or enc.created_by
    address = ", ".join(x for x in (loc.address_line, loc.city, loc.state) if x)
    return takeaway.TakeAway(
        patient_name=f"{p.first_name} {p.last_name}",
        date_of_birth=p.date_of_birth,
        prepared_on=enc.held_on,
        pharmacy_name=loc.name,
        pharmacy_address=address,
        pharmacist_name=(pharmacist.get_full_name() or pharmacist.username) if pharmacist else "",
        review_kind=enc.kind,
        mode=enc.mode,
        allergies=enc.allergies,
        actions=[
            takeaway.ActionRow(talked_about=pr.talked_about, patient_action=pr.patient_action)
            for pr in enc.problems.all()
        ],
        medications=[
            takeaway.MedicationEntry(
                name=m.name,
                how_used=m.how_used,
                why_used=m.why_used,
                prescriber=m.prescriber,
                started_on=m.started_on,
                stopped_on=m.stopped_on,
                why_stopped=m.why_stopped,
            )
            for m in enc.medications.all()
        ],
        follow_up=" ".join(
            x
            for x in (
                f"Next check-in on {enc.follow_up_on:%B %-d, %Y}." if enc.follow_up_on else "",
                enc.follow_up_note,
            )
            if x
        ),
        version_note=(
            f"Amended record (version {enc.version}): {enc.amendment_reason}"
            if enc.version > 1
            else ""
        ),
    )


@nav_required("clinical:index")
def encounter_takeaway(request: HttpRequest, encounter_id: int) -> HttpResponse:
    enc = encounter_get_for_user(user=request.user, encounter_id=encounter_id)
    context = {"enc": enc, "t": _takeaway(enc), "draft": not enc.is_signed}
    return render(request, "clinical/takeaway.html", context)


@nav_required("clinical:index")
def encounter_takeaway_pdf(request: HttpRequest, encounter_id: int) -> HttpResponse:
    enc = encounter_get_for_user(user=request.user, encounter_id=encounter_id)
    if not enc.is_signed:
        return HttpResponse(
            "The take-away is issued from a signed encounter. Sign it first.",
            status=409,
            content_type="text/plain",
        )
    pdf = takeaway.takeaway_pdf(_takeaway(enc))
    response = HttpResponse(pdf, content_type="application/pdf")
    name = f"medication-review-{enc.patient.last_name.lower()}-{enc.held_on:%Y%m%d}.pdf"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


@nav_required("clinical:index")
def encounter_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    qs = encounters_current_for_user(
        request.user, status=status if status in Encounter.Status.values else None
    )
    return render(
        request,
        "clinical/encounters.html",
        {"encounters": qs[:200], "status": status, "statuses": Encounter.Status.choices},
    )


@nav_required("clinical:index")
def poc_test_new(request: HttpRequest, patient_id: int) -> HttpResponseBase:
    patient = patient_get_for_user(user=request.user, patient_id=patient_id)
    form = PocTestForm(request.POST or None, initial={"performed_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            poc_test_record(
                user=request.user, patient=patient, request=request, **form.cleaned_data
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, "Test recorded and billed.")
            return redirect("adherence:patient_card", patient_id=patient.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "clinical/poc_test_form.html", {"patient": patient, "form": form}, status=status
    )


def _period(request: HttpRequest, today: date) -> tuple[date, date]:
    def parse(name: str, default: date) -> date:
        try:
            return date.fromisoformat(request.GET.get(name, ""))
        except ValueError:
            return default

    return parse("from", today.replace(month=1, day=1)), parse("to", today)


@nav_required("clinical:index")
def revenue(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    since, until = _period(request, today)
    service = request.GET.get("service", "")
    rows = clinical_revenue_for_user(request.user, since=since, until=until)
    claims = clinical_claims_for_user(
        request.user,
        since=since,
        until=until,
        service=service if service in ClinicalClaim.Service.values else "",
    )
    context = {
        "rows": rows,
        "total_billed": sum(r.billed_cents for r in rows),
        "total_paid": sum(r.paid_cents for r in rows),
        "total_open": sum(r.open_cents for r in rows),
        "claims": claims[:200],
        "since": since,
        "until": until,
        "service": service,
        "services": ClinicalClaim.Service.choices,
        "claim_form": ClaimUpdateForm(),
    }
    return render(request, "clinical/revenue.html", context)


@nav_required("clinical:index")
@require_POST
def claim_update(request: HttpRequest, claim_id: int) -> HttpResponseBase:
    claim = clinical_claim_get_for_user(user=request.user, claim_id=claim_id)
    form = ClaimUpdateForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(form.errors.get_json_data())
        clinical_claim_update(
            user=request.user,
            claim=claim,
            status=form.cleaned_data["status"],
            paid_cents=form.paid_cents(),
            note=form.cleaned_data["note"],
            request=request,
        )
    except ValidationError as exc:
        messages.error(request, f"Claim {claim.pk} not updated: {' '.join(exc.messages)}")
    else:
        messages.success(request, f"Claim {claim.pk} updated.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("clinical:revenue")
    return redirect(target)
