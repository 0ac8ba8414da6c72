"""Remittance pages: the list of payments, one payment made readable, and its raw segments."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from reconciliation.selectors import (
    RemittanceFilters,
    remittance_claims,
    remittance_get_for_user,
    remittance_list_for_user,
    remittance_raw_segments,
)
from reconciliation.services.remit_import import remittance_issues
from rxrevops.access import Principal, location_list_for_user
from rxrevops.models import AuditEvent, Location
from rxrevops.services.audit import audit_record
from rxrevops.web import nav_required

CLAIMS_PER_PAGE = 50


class RemittanceFilterForm(forms.Form):
    location = forms.ModelChoiceField(
        queryset=Location.objects.none(), required=False, label="Store", empty_label="All"
    )
    payer = forms.CharField(required=False)
    status = forms.ChoiceField(
        choices=[("", "All"), ("balanced", "Balanced"), ("flagged", "Flagged")], required=False
    )
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    trace = forms.CharField(required=False, label="Trace no.")
    job = forms.IntegerField(required=False, widget=forms.HiddenInput())

    def __init__(self, *args: Any, user: Principal, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = location_list_for_user(user)  # type: ignore[attr-defined]

    def filters(self) -> RemittanceFilters:
        if not self.is_valid():
            return RemittanceFilters()
        d = self.cleaned_data
        return RemittanceFilters(
            location=d["location"].pk if d["location"] else None,
            payer=d["payer"].strip(),
            status=d["status"],
            since=d["since"],
            until=d["until"],
            trace=d["trace"].strip(),
            job=d["job"],
        )


@nav_required("reconciliation:index")
def remittance_list(request: HttpRequest) -> HttpResponse:
    form = RemittanceFilterForm(request.GET or None, user=request.user)
    remittances = remittance_list_for_user(request.user, form.filters())
    page = Paginator(remittances, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "reconciliation/remittance_list.html",
        {"form": form, "page": page, "query": query.urlencode()},
    )


@nav_required("reconciliation:index")
def remittance_detail(request: HttpRequest, remittance_id: int) -> HttpResponse:
    remittance = remittance_get_for_user(user=request.user, remittance_id=remittance_id)
    page = Paginator(remittance_claims(remittance), CLAIMS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    audit_record(  # claim payments name patients: every view is on the record
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        obj=remittance,
        summary=f"Remittance {remittance.trace_number} page {page.number}",
        request=request,
    )
    return render(
        request,
        "reconciliation/remittance_detail.html",
        {
            "r": remittance,
            "page": page,
            "issues": remittance_issues(remittance.issues),
            "provider_adjustments": remittance.provider_adjustments.order_by("segment"),
        },
    )


@nav_required("reconciliation:index")
def remittance_raw(request: HttpRequest, remittance_id: int) -> HttpResponse:
    remittance = remittance_get_for_user(user=request.user, remittance_id=remittance_id)
    flagged: dict[int, list[str]] = {}
    for issue in remittance.issues:
        if issue.get("segment") is not None:
            flagged.setdefault(int(issue["segment"]), []).append(issue.get("message", ""))
    rows = [
        (number, text, flagged.get(number, []))
        for number, text in remittance_raw_segments(remittance)
    ]
    return render(request, "reconciliation/remittance_raw.html", {"r": remittance, "rows": rows})
