from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from rxrevops.web import nav_required


@nav_required("adherence:index")
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "adherence/index.html")
