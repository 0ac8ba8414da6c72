"""Clinical pages: the latest immunizations of the user's stores, and recording a dose.

Patients are fetched through `patient_get_for_user` (another store's patient is a 404);
the dose is written by `clinical.services.immunizations.immunization_record`.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone

from adherence.models import WorklistItem
from adherence.selectors import worklist_item_get_for_user
from adherence.services.build import worklists_request
from claims.selectors import patient_get_for_user
from clinical.forms import ImmunizationForm, gap_cvx
from clinical.selectors import immunizations_for_user
from clinical.services.immunizations import immunization_record
from rxrevops.web import nav_required

LATEST = 50


@nav_required("clinical:index")
def index(request: HttpRequest) -> HttpResponse:
    immunizations = immunizations_for_user(request.user)[:LATEST]
    return render(request, "clinical/index.html", {"immunizations": immunizations})


def _gap(request: HttpRequest, patient_id: int) -> WorklistItem | None:
    """The care gap named by `?gap=`, when it is one of this patient's."""
    raw = request.GET.get("gap", "")
    if not raw.isdigit():
        return None
    item = worklist_item_get_for_user(user=request.user, item_id=int(raw))
    return item if item.patient_id == patient_id else None


@nav_required("clinical:index")
def immunization_new(request: HttpRequest, patient_id: int) -> HttpResponseBase:
    patient = patient_get_for_user(user=request.user, patient_id=patient_id)
    gap = _gap(request, patient.pk)
    today = timezone.localdate()
    cvx = gap_cvx(gap.code) if gap else None
    if request.method != "POST":
        form = ImmunizationForm(today=today, cvx=cvx)
        context = {"patient": patient, "form": form, "gap": gap}
        return render(request, "clinical/immunization_form.html", context)
    # every maker is offered on a post, so a CVX/MVX mismatch gets the service's reason
    form = ImmunizationForm(request.POST, today=today)
    if form.is_valid():
        try:
            immunization_record(
                user=request.user, patient=patient, request=request, **form.service_kwargs()
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            # the dose closes its care gap at the next build: ask for one now
            worklists_request(organization=patient.location.organization, created_by=request.user)
            messages.success(
                request, "Immunization recorded; the care gap closes at the next worklist build."
            )
            return redirect("adherence:patient_card", patient_id=patient.pk)
    context = {"patient": patient, "form": form, "gap": gap}
    return render(request, "clinical/immunization_form.html", context, status=400)
