from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboards.selectors import location_overview_for_user
from rxrevops.selectors.jobs import job_list_for_user
from rxrevops.web import nav_required


@nav_required("dashboards:index")
def index(request: HttpRequest) -> HttpResponse:
    locations = list(location_overview_for_user(request.user))
    return render(
        request,
        "dashboards/index.html",
        {
            "locations": locations,
            "patient_total": sum(loc.patient_count for loc in locations),
            "recent_jobs": job_list_for_user(request.user)[:10],
        },
    )
