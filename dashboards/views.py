from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from clinical.encounter_selectors import clinical_revenue_by_location_for_user
from dashboards.selectors import location_overview_for_user
from rxrevops.selectors.jobs import job_list_for_user
from rxrevops.web import nav_required


@nav_required("dashboards:index")
def index(request: HttpRequest) -> HttpResponse:
    locations = list(location_overview_for_user(request.user))
    since = timezone.localdate().replace(month=1, day=1)
    clinical = clinical_revenue_by_location_for_user(request.user, since=since)
    rows = [(loc, *clinical.get(loc.pk, (0, 0))) for loc in locations]
    return render(
        request,
        "dashboards/index.html",
        {
            "locations": locations,
            "rows": rows,
            "patient_total": sum(loc.patient_count for loc in locations),
            "clinical_billed": sum(b for b, _ in clinical.values()),
            "clinical_paid": sum(p for _, p in clinical.values()),
            "year_start": since,
            "recent_jobs": job_list_for_user(request.user)[:10],
        },
    )
