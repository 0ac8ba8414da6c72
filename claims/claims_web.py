"""Claims list per store with filters, paginated, exportable to CSV or XLSX."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any, cast

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import render

from claims.ingest.normalize import cents_text
from claims.models import Fill
from claims.selectors import FillFilters, fill_list_for_user, plan_list_for_user
from rxrevops.access import Principal, location_list_for_user
from rxrevops.exports import neutralize, xlsx_cell
from rxrevops.models import AuditEvent, Location, Role
from rxrevops.services.audit import audit_record
from rxrevops.web import role_required

CLAIM_ROLES = (Role.OWNER, Role.REVENUE, Role.PHARMACIST)
XLSX_MAX_ROWS = 200_000
EXPORT_COLUMNS = (
    "store_ncpdp",
    "rx_number",
    "fill_number",
    "date_of_service",
    "transaction_code",
    "status",
    "patient_id",
    "patient_name",
    "ndc",
    "drug",
    "quantity",
    "days_supply",
    "bin",
    "pcn",
    "group",
    "ingredient_cost_paid",
    "dispensing_fee_paid",
    "patient_pay",
    "total_paid",
    "acquisition_cost",
    "authorization_number",
)


class ClaimFilterForm(forms.Form):
    location = forms.ModelChoiceField(
        queryset=Location.objects.none(), required=False, empty_label="All my stores"
    )
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    plan = forms.ChoiceField(required=False, label="Payer")
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Fill.Status.choices])
    drug = forms.CharField(required=False, label="Drug or NDC")
    patient = forms.CharField(required=False, label="Patient")

    def __init__(self, *args: Any, user: Principal, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["location"]).queryset = location_list_for_user(
            user
        )
        cast(forms.ChoiceField, self.fields["plan"]).choices = [("", "Any payer")] + [
            (str(p.pk), f"{p.name} ({p.bin}/{p.group})") for p in plan_list_for_user(user)
        ]

    def filters(self) -> FillFilters:
        if not self.is_valid():
            return FillFilters()
        d = self.cleaned_data
        return FillFilters(
            location=d["location"].pk if d["location"] else None,
            since=d["since"],
            until=d["until"],
            plan=int(d["plan"]) if d["plan"] else None,
            status=d["status"],
            drug=d["drug"].strip(),
            patient=d["patient"].strip(),
        )


def _row(f: Fill) -> list[Any]:
    plan = f.plan
    return [
        f.location.ncpdp_id,
        f.rx_number,
        f.fill_number,
        f.date_of_service.isoformat(),
        f.transaction_code,
        f.status,
        f.patient.pms_patient_id,
        f"{f.patient.last_name}, {f.patient.first_name}",
        f.drug.ndc,
        f.drug.name,
        str(f.quantity),
        f.days_supply,
        plan.bin if plan else "",
        plan.pcn if plan else "",
        plan.group if plan else "",
        cents_text(f.ingredient_cost_paid_cents),
        cents_text(f.dispensing_fee_paid_cents),
        cents_text(f.patient_pay_cents),
        cents_text(f.total_paid_cents),
        cents_text(f.acquisition_cost_cents),
        f.authorization_number,
    ]


@role_required(*CLAIM_ROLES)
def claim_list(request: HttpRequest) -> HttpResponseBase:
    form = ClaimFilterForm(request.GET or None, user=request.user)
    fills = fill_list_for_user(request.user, form.filters())
    export = request.GET.get("export")
    if export in ("csv", "xlsx"):
        audit_record(
            actor=request.user,
            action=AuditEvent.Action.EXPORT,
            summary=f"Claims export ({export}) {request.GET.urlencode()}"[:300],
            request=request,
        )
        return _export_csv(fills) if export == "csv" else _export_xlsx(fills)
    page = Paginator(fills, 50).get_page(request.GET.get("page"))
    if page.object_list:
        audit_record(
            actor=request.user,
            action=AuditEvent.Action.VIEW,
            summary=f"Claims list page {page.number}",
            request=request,
        )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request, "claims/claim_list.html", {"form": form, "page": page, "query": query.urlencode()}
    )


def _export_csv(fills: Any) -> StreamingHttpResponse:
    def rows() -> Iterator[str]:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(EXPORT_COLUMNS)
        for fill in fills.iterator(chunk_size=2000):
            writer.writerow([neutralize(v) for v in _row(fill)])
            if buf.tell() > 1 << 16:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="claims.csv"'
    return response


def _export_xlsx(fills: Any) -> HttpResponse:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Claims")
    ws.append(list(EXPORT_COLUMNS))
    for fill in fills[:XLSX_MAX_ROWS].iterator(chunk_size=2000):
        ws.append([xlsx_cell(v) for v in _row(fill)])
    out = io.BytesIO()
    wb.save(out)
    response = HttpResponse(
        out.getvalue(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = 'attachment; filename="claims.xlsx"'
    return response
