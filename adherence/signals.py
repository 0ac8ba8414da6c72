"""Rebuild the worklists after each successful import that changes what they are built from
(PMS fills, immunization records)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.dispatch import receiver

from rxrevops.models import Job
from rxrevops.services.jobs import job_succeeded

logger = logging.getLogger(__name__)

# fills change adherence; recorded immunizations close care gaps
REBUILD_AFTER = frozenset({"pms", "immunizations"})


@receiver(job_succeeded)
def _rebuild_after_import(sender: Any, job: Job, **kwargs: Any) -> None:
    if not settings.WORKLISTS_AFTER_IMPORT:
        return
    changed = job.counts.get("inserted", 0) + job.counts.get("updated", 0)
    if job.kind not in REBUILD_AFTER or not changed:
        return  # a re-upload that changed nothing changes no worklist
    from adherence.services.build import worklists_request

    try:
        worklists_request(organization=job.organization, created_by=job.created_by)
    except Exception:  # never fail the import for the follow-up
        logger.exception("could not queue the worklist build after job %s", job.pk)
