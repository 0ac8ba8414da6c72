"""Dashboard beat tasks: the nightly rollup refresh."""

from __future__ import annotations

from celery import shared_task

from dashboards.services.rollups import rollups_request
from rxrevops.models import Organization


@shared_task
def rollups_nightly() -> list[int]:
    """Queue one full refresh per organization with stores (a refresh already waiting is
    reused, so beat firing twice queues nothing twice)."""
    orgs = Organization.objects.filter(locations__isnull=False).distinct().order_by("pk")
    return [rollups_request(organization=org).pk for org in orgs]
