from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from claims.selectors import patient_get_for_user, patient_list_for_user
from rxrevops.models import AuditEvent
from rxrevops.services.audit import audit_record
from rxrevops.web import nav_required


@nav_required("claims:patient_list")
def patient_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    page = Paginator(patient_list_for_user(request.user, search=search), 50).get_page(
        request.GET.get("page")
    )
    if page.object_list:
        audit_record(
            actor=request.user,
            action=AuditEvent.Action.VIEW,
            summary=f"Patient list page {page.number} ({len(page.object_list)} patients)"
            + (" search" if search else ""),
            request=request,
        )
    template = "claims/_patient_rows.html" if request.htmx else "claims/patient_list.html"  # type: ignore[attr-defined]
    return render(request, template, {"page": page, "q": search})


@nav_required("claims:patient_list")
def patient_detail(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = patient_get_for_user(user=request.user, patient_id=patient_id)
    audit_record(actor=request.user, action=AuditEvent.Action.VIEW, obj=patient, request=request)
    return render(request, "claims/patient_detail.html", {"patient": patient})
