"""Reconcile again after each successful import that changes what results are built from
(PMS claims, 835 remittances, fee statements, NADAC prices, acquisition costs)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.dispatch import receiver

from rxrevops.models import Job
from rxrevops.services.jobs import job_succeeded

logger = logging.getLogger(__name__)

RECONCILE_AFTER = frozenset({"pms", "x12_835", "fees", "nadac", "acquisition"})


@receiver(job_succeeded)
def _reconcile_after_import(sender: Any, job: Job, **kwargs: Any) -> None:
    if not settings.RECONCILE_AFTER_IMPORT or job.kind not in RECONCILE_AFTER:
        return
    counts = job.counts
    changed = sum(counts.get(k, 0) for k in ("inserted", "updated", "loaded", "corrected"))
    # a retried import (its worker died) may report "nothing changed" for rows the first
    # attempt committed: reconcile anyway
    if (not changed or counts.get("same_file")) and job.attempts <= 1:
        return  # a re-upload that changed nothing changes no result
    from reconciliation.services.runs import reconcile_request

    try:
        reconcile_request(organization=job.organization, created_by=job.created_by)
    except Exception:  # never fail the import for the follow-up
        logger.exception("could not queue the reconciliation after job %s", job.pk)
