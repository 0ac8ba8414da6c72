from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from rxrevops.selectors.jobs import job_list_for_user
from rxrevops.web import nav_required


@nav_required("reconciliation:index")
def index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "reconciliation/index.html",
        {"recent_jobs": job_list_for_user(request.user)[:20]},
    )
