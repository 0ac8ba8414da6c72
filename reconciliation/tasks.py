"""Reconciliation beat tasks: the nightly run."""

from __future__ import annotations

from celery import shared_task

from reconciliation.services.runs import reconcile_request
from rxrevops.models import Organization


@shared_task
def reconcile_nightly() -> list[int]:
    """Queue one full rebuild per organization with stores (a run already waiting is reused,
    so beat firing twice queues nothing twice). Runs after imports are incremental; the
    nightly one rebuilds everything, recounting what incremental runs carry forward."""
    orgs = Organization.objects.filter(locations__isnull=False).distinct().order_by("pk")
    return [reconcile_request(organization=org, full=True).pk for org in orgs]
