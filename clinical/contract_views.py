"""Value-based contract pages: the list with each contract's projection, and a contract's
scorecard with the patients who would move it. Owners and pharmacists (the Clinical
navigation); a contract of another organization is a 404."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from clinical.contract_selectors import (
    contract_get_for_user,
    contract_scorecard,
    contract_summaries_for_user,
)
from rxrevops.web import nav_required


@nav_required("clinical:index")
def contracts(request: HttpRequest) -> HttpResponse:
    rows = contract_summaries_for_user(request.user)
    return render(request, "clinical/contracts.html", {"rows": rows})


@nav_required("clinical:index")
def contract_detail(request: HttpRequest, contract_id: int) -> HttpResponse:
    contract = contract_get_for_user(user=request.user, contract_id=contract_id)
    scorecard = contract_scorecard(contract, request.user)
    return render(request, "clinical/contract_detail.html", {"sc": scorecard})
