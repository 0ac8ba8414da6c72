"""Adherence beat tasks: the nightly worklist rebuild."""

from __future__ import annotations

from celery import shared_task

from adherence.services.build import worklists_request
from rxrevops.models import Organization


@shared_task
def worklists_nightly() -> list[int]:
    """Queue one build per organization with stores (a build already waiting is reused, so
    beat firing twice queues nothing twice)."""
    orgs = Organization.objects.filter(locations__isnull=False).distinct().order_by("pk")
    return [worklists_request(organization=org).pk for org in orgs]
