"""The reconciliation workbench for central staff: exceptions by kind with counts and dollars,
filters, one claim's whole story with its case, the MAC appeal worklist and exports for the
accountant. Thin: each view validates, calls one selector or service, and renders."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from claims.claims_web import XLSX_MAX_ROWS
from claims.ingest.normalize import cents_text
from reconciliation.case_models import ExceptionCase
from reconciliation.models import ClaimResult
from reconciliation.result_selectors import (
    AGE_BUCKETS,
    KIND_LABELS,
    claim_story_for_user,
    exception_summary_for_user,
    exceptions_for_user,
    mac_appeals_for_user,
)
from reconciliation.services.cases import case_update as case_update_service
from rxrevops.access import Principal, location_list_for_user
from rxrevops.exports import neutralize, xlsx_cell
from rxrevops.models import AuditEvent, Location
from rxrevops.services.audit import audit_record
from rxrevops.web import nav_required

ROWS_PER_PAGE = 50
GUARD = "reconciliation:workbench"

EXCEPTION_COLUMNS = (
    "store_ncpdp",
    "rx_number",
    "fill_number",
    "date_of_service",
    "payer",
    "bin",
    "ndc",
    "drug",
    "exception",
    "status",
    "expected",
    "remitted",
    "dir",
    "recouped",
    "at_stake",
    "acquisition_cost",
    "net_margin",
    "age",
    "due_on",
    "reasons",
    "case_status",
)
APPEAL_COLUMNS = (
    "store_ncpdp",
    "store_npi",
    "payer",
    "bin",
    "pcn",
    "group",
    "cardholder_id",
    "rx_number",
    "fill_number",
    "date_of_service",
    "authorization_number",
    "ndc",
    "drug",
    "quantity",
    "basis_of_reimbursement",
    "ingredient_cost_paid",
    "dispensing_fee_paid",
    "patient_pay",
    "total_reimbursed",
    "acquisition_cost",
    "nadac_per_unit",
    "nadac_extended",
    "shortfall",
)


class WorkbenchFilterForm(forms.Form):
    kind = forms.ChoiceField(
        required=False, label="Exception", choices=[("", "Every exception"), *KIND_LABELS.items()]
    )
    location = forms.ModelChoiceField(
        queryset=Location.objects.none(), required=False, label="Store", empty_label="All"
    )
    payer = forms.CharField(required=False, label="Payer (plan or BIN)")
    age = forms.ChoiceField(
        required=False,
        label="Age (days)",
        choices=[("", "Any age"), *((a, a) for a in AGE_BUCKETS)],
    )
    min_amount = forms.DecimalField(
        required=False, label="At least $", min_value=Decimal(0), decimal_places=2
    )
    case_status = forms.ChoiceField(
        required=False, label="Case", choices=[("", "Any"), *ExceptionCase.Status.choices]
    )

    def __init__(self, *args: Any, user: Principal, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        locations = cast(forms.ModelChoiceField, self.fields["location"])
        locations.queryset = location_list_for_user(user)

    def selection(self) -> dict[str, Any]:
        """Keyword arguments for the exception selectors (nothing narrowed when invalid)."""
        if not self.is_valid():
            return {}
        d = self.cleaned_data
        amount = d["min_amount"]
        return {
            "location_id": d["location"].pk if d["location"] else None,
            "payer": d["payer"].strip(),
            "age": d["age"],
            "min_cents": int(amount * 100) if amount is not None else None,
            "case_status": d["case_status"],
        }

    @property
    def chosen_kind(self) -> str:
        return str(self.cleaned_data.get("kind") or "") if self.is_valid() else ""


def _query_without(request: HttpRequest, *names: str) -> str:
    query = request.GET.copy()
    for name in ("page", *names):
        query.pop(name, None)
    return query.urlencode()


@nav_required(GUARD)
def workbench(request: HttpRequest) -> HttpResponse:
    form = WorkbenchFilterForm(request.GET or None, user=request.user)
    selection = form.selection()
    rows = exceptions_for_user(request.user, kind=form.chosen_kind, **selection)
    page = Paginator(rows, ROWS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "kind": form.chosen_kind,
        "summary": exception_summary_for_user(request.user, **selection),
        "page": page,
        "query": _query_without(request),
        "query_without_kind": _query_without(request, "kind"),
    }
    template = (
        "reconciliation/_workbench_results.html"
        if getattr(request, "htmx", False)
        else "reconciliation/workbench.html"
    )
    return render(request, template, context)


@nav_required(GUARD)
def claim_story(request: HttpRequest, fill_id: int) -> HttpResponse:
    story = claim_story_for_user(user=request.user, fill_id=fill_id)
    audit_record(  # the story names the patient and shows what the store was paid
        actor=request.user,
        action=AuditEvent.Action.VIEW,
        obj=story.fill,
        summary=f"Claim story Rx {story.fill.rx_number}-{story.fill.fill_number:02d}",
        request=request,
    )
    labels = dict(ExceptionCase.Status.choices)
    return render(
        request,
        "reconciliation/claim_story.html",
        {
            "story": story,
            "case_label": labels.get(story.case_status, story.case_status),
            "case_kind_label": KIND_LABELS.get(story.case.kind, story.case.kind)
            if story.case
            else "",
            "notes": [
                (n, labels.get(n.status_from, n.status_from), labels.get(n.status_to, n.status_to))
                for n in story.notes
            ],
            "f": story.fill,
            "r": story.result,
            "kind_label": KIND_LABELS.get(story.kind, ""),
            "statuses": ExceptionCase.Status.choices,
            "back": request.GET.get("back", ""),
        },
    )


@require_POST
@nav_required(GUARD)
def case_update(request: HttpRequest, fill_id: int) -> HttpResponse:
    try:
        step = case_update_service(
            user=request.user,
            fill_id=fill_id,
            status=request.POST.get("status", ""),
            note=request.POST.get("note", ""),
            request=request,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        label = dict(ExceptionCase.Status.choices).get(step.status_to, "")
        messages.success(request, f"Marked {label.lower()}." if label else "Note added.")
    return redirect("reconciliation:claim_story", fill_id=fill_id)


@nav_required(GUARD)
def mac_appeals(request: HttpRequest) -> HttpResponseBase:
    form = WorkbenchFilterForm(request.GET or None, user=request.user)
    selection = form.selection()
    rows = mac_appeals_for_user(
        request.user,
        location_id=selection.get("location_id"),
        payer=selection.get("payer", ""),
    )
    export = request.GET.get("export")
    if export in ("csv", "pdf"):
        audit_record(
            actor=request.user,
            action=AuditEvent.Action.EXPORT,
            summary=f"MAC appeal packet ({export}) {request.GET.urlencode()}"[:300],
            request=request,
        )
        if export == "csv":
            return _csv(APPEAL_COLUMNS, map(_appeal_row, rows.iterator(2000)), "mac-appeals")
        return _appeal_pdf(list(rows[:500]))
    page = Paginator(rows, ROWS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "reconciliation/mac_appeals.html",
        {"form": form, "page": page, "query": _query_without(request, "export")},
    )


@nav_required(GUARD)
def workbench_export(request: HttpRequest) -> HttpResponseBase:
    """The filtered exception list as CSV (streamed) or XLSX, for the accountant."""
    form = WorkbenchFilterForm(request.GET or None, user=request.user)
    rows = exceptions_for_user(request.user, kind=form.chosen_kind, **form.selection())
    kind = request.GET.get("format", "csv")
    audit_record(
        actor=request.user,
        action=AuditEvent.Action.EXPORT,
        summary=f"Reconciliation exceptions export ({kind}) {request.GET.urlencode()}"[:300],
        request=request,
    )
    if kind == "xlsx":
        return _xlsx(
            EXCEPTION_COLUMNS,
            map(_exception_row, rows[:XLSX_MAX_ROWS].iterator(2000)),
            "exceptions",
        )
    return _csv(EXCEPTION_COLUMNS, map(_exception_row, rows.iterator(2000)), "exceptions")


# --- export rows and formats -------------------------------------------------------------


def _exception_row(r: ClaimResult) -> list[Any]:
    f, plan = r.fill, r.fill.plan
    return [
        r.location.ncpdp_id,
        f.rx_number,
        f.fill_number,
        r.date_of_service.isoformat(),
        plan.name if plan else "",
        plan.bin if plan else "",
        f.drug.ndc,
        f.drug.name,
        r.kind,  # type: ignore[attr-defined]
        r.status,
        cents_text(r.expected_cents),
        cents_text(r.remitted_cents),
        cents_text(r.dir_cents),
        cents_text(r.recouped_cents),
        cents_text(r.at_stake_cents),  # type: ignore[attr-defined]
        cents_text(r.acquisition_cents),
        cents_text(r.net_margin_cents),
        r.age_bucket,
        r.due_on.isoformat() if r.due_on else "",
        " ".join(r.reasons),
        r.case_status,  # type: ignore[attr-defined]
    ]


def _appeal_row(r: Any) -> list[Any]:
    f, plan = r.fill, r.fill.plan
    return [
        r.location.ncpdp_id,
        r.location.npi,
        plan.name if plan else "",
        plan.bin if plan else "",
        plan.pcn if plan else "",
        plan.group if plan else "",
        f.cardholder_id,
        f.rx_number,
        f.fill_number,
        r.date_of_service.isoformat(),
        f.authorization_number,
        f.drug.ndc,
        f.drug.name,
        str(f.quantity),
        f.basis_of_reimbursement,
        cents_text(f.ingredient_cost_paid_cents),
        cents_text(f.dispensing_fee_paid_cents),
        cents_text(f.patient_pay_cents),
        cents_text(r.paid_cents),
        cents_text(r.acquisition_cents),
        str(r.nadac_per_unit) if r.nadac_per_unit is not None else "",
        cents_text(r.nadac_cents) if r.nadac_cents is not None else "",
        cents_text(r.shortfall_cents),
    ]


def _csv(header: Sequence[str], rows: Iterable[list[Any]], name: str) -> StreamingHttpResponse:
    def chunks() -> Iterator[str]:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(header)
        for row in rows:
            writer.writerow([neutralize(v) for v in row])
            if buf.tell() > 1 << 16:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()

    response = StreamingHttpResponse(chunks(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


def _xlsx(header: Sequence[str], rows: Iterable[list[Any]], name: str) -> HttpResponse:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(name.capitalize())
    ws.append(list(header))
    for row in rows:
        ws.append([xlsx_cell(v) for v in row])
    out = io.BytesIO()
    wb.save(out)
    response = HttpResponse(
        out.getvalue(),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return response


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def _appeal_pdf(rows: list[Any]) -> HttpResponse:
    """The appeal packet as a landscape table, one line per claim (first 500 claims; the CSV
    holds them all)."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    pdf = FPDF(orientation="landscape", unit="mm", format="Letter")
    pdf.set_title("MAC appeal packet")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=14)
    pdf.cell(
        0, 8, "MAC appeal packet: below-cost generic claims", new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    pdf.set_font("Helvetica", size=8)
    pdf.multi_cell(
        0,
        4,
        "Reimbursed = plan paid + patient pay at adjudication. Shortfall = acquisition cost - "
        "reimbursed. NADAC = CMS per-unit price effective on the date of service x quantity.",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(2)
    columns: Sequence[tuple[str, Callable[[Any], str]]] = (
        ("Store", lambda r: r.location.ncpdp_id),
        ("Payer / BIN", lambda r: f"{r.fill.plan.name} {r.fill.plan.bin}" if r.fill.plan else ""),
        ("Rx-fill", lambda r: f"{r.fill.rx_number}-{r.fill.fill_number:02d}"),
        ("Date", lambda r: r.date_of_service.isoformat()),
        ("NDC / drug", lambda r: f"{r.fill.drug.ndc} {r.fill.drug.name}"),
        ("Qty", lambda r: f"{r.fill.quantity.normalize():f}"),
        ("Reimbursed", lambda r: cents_text(r.paid_cents)),
        ("Acquisition", lambda r: cents_text(r.acquisition_cents)),
        ("NADAC", lambda r: cents_text(r.nadac_cents) if r.nadac_cents is not None else "-"),
        ("Shortfall", lambda r: cents_text(r.shortfall_cents)),
    )
    with pdf.table(col_widths=(10, 22, 12, 12, 30, 7, 11, 11, 10, 10), text_align="LEFT") as table:
        head = table.row()
        for title, _ in columns:
            head.cell(title)
        for r in rows:
            line = table.row()
            for _, value in columns:
                line.cell(_latin1(value(r)))
    response = HttpResponse(bytes(pdf.output()), content_type="application/pdf")
    response["Content-Disposition"] = 'attachment; filename="mac-appeals.pdf"'
    return response
