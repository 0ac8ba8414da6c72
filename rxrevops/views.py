"""Platform pages: home redirect, health, jobs, audit log, API tokens."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from rxrevops.access import primary_role_for_user
from rxrevops.exports import neutralize
from rxrevops.forms import ApiTokenForm, AuditFilterForm
from rxrevops.health import health_report
from rxrevops.models import AuditEvent, Role
from rxrevops.selectors.audit import audit_list_for_user
from rxrevops.selectors.jobs import job_get_for_user, job_list_for_user
from rxrevops.selectors.tokens import api_token_get_for_user, api_token_list_for_user
from rxrevops.services.audit import audit_record
from rxrevops.services.tokens import api_token_create, api_token_revoke
from rxrevops.web import ROLE_HOME, nav_required, role_required


@login_required
def home(request: HttpRequest) -> HttpResponse:
    role = primary_role_for_user(request.user)
    if role is None:
        return render(request, "rxrevops/no_role.html", status=403)
    return redirect(ROLE_HOME[role])  # type: ignore[index]


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    ok, checks = health_report()
    body = {
        "status": "ok" if ok else "fail",
        "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks},
    }
    return JsonResponse(body, status=200 if ok else 503)


@nav_required("job_list")
def job_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(job_list_for_user(request.user), 50).get_page(request.GET.get("page"))
    return render(request, "rxrevops/job_list.html", {"page": page})


# job pages show row-level import problems (patient data): the roles that run imports
@role_required(Role.OWNER, Role.REVENUE, Role.PHARMACIST)
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = job_get_for_user(user=request.user, job_id=job_id)
    template = "rxrevops/_job_progress.html" if request.htmx else "rxrevops/job_detail.html"  # type: ignore[attr-defined]
    return render(request, template, {"job": job})


def _audit_events(request: HttpRequest) -> tuple[AuditFilterForm, Any]:
    form = AuditFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    events = audit_list_for_user(
        request.user,
        action=filters.get("action") or None,
        actor=filters.get("actor") or None,
        since=filters.get("since"),
        until=filters.get("until"),
    )
    return form, events


@nav_required("audit_list")
def audit_list(request: HttpRequest) -> HttpResponse:
    form, events = _audit_events(request)
    page = Paginator(events, 100).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "rxrevops/audit_list.html",
        {"page": page, "form": form, "query": query.urlencode()},
    )


AUDIT_CSV_HEADER = (
    "occurred_at", "actor", "action", "object_type", "object_id", "location", "summary",
    "ip_address",
)  # fmt: skip


@nav_required("audit_list")
def audit_export(request: HttpRequest) -> StreamingHttpResponse:
    """The audit log as the page filters it, every entry (not one page), as CSV for an auditor;
    cells that a spreadsheet would run as formulas are neutralized."""
    _, events = _audit_events(request)
    audit_record(
        actor=request.user,
        action=AuditEvent.Action.EXPORT,
        summary=f"Audit log export (CSV) {request.GET.urlencode()}"[:300],
        request=request,
    )

    def rows() -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(AUDIT_CSV_HEADER)
        for e in events.iterator(chunk_size=2000):
            writer.writerow(
                [
                    neutralize(v)
                    for v in (
                        e.occurred_at.isoformat(),
                        e.actor_label or "system",
                        e.get_action_display(),
                        e.object_type,
                        e.object_id,
                        e.location.name if e.location else "",
                        e.summary,
                        e.ip_address or "",
                    )
                ]
            )
            if out.tell() > 1 << 16:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.csv"'
    return response


@nav_required("token_list")
def token_list(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None, user=request.user)
    issued = None
    if request.method == "POST" and form.is_valid():
        try:
            issued = api_token_create(
                organization=form.cleaned_data["organization"],
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                locations=form.cleaned_data["locations"],
                created_by=request.user,  # type: ignore[arg-type]
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            form = ApiTokenForm(user=request.user)
    tokens = api_token_list_for_user(request.user)
    return render(
        request,
        "rxrevops/token_list.html",
        {"form": form, "tokens": tokens, "issued": issued},
        status=400 if request.method == "POST" and issued is None else 200,
    )


@require_POST
@nav_required("token_list")
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = api_token_get_for_user(user=request.user, token_id=token_id)
    api_token_revoke(token=token, revoked_by=request.user)  # type: ignore[arg-type]
    messages.success(request, f"Token “{token.name}” ({token.prefix}) revoked.")
    return redirect("token_list")
