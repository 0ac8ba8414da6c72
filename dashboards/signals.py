"""Refresh the margin rollups after each successful reconciliation run (the run's
`job_succeeded`, sent once its rows are committed); forget the kept answers about adherence
when a worklist build rewrites the measures."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.dispatch import receiver

from adherence.services.build import measures_rebuilt
from rxrevops.models import Job
from rxrevops.services.jobs import job_succeeded

logger = logging.getLogger(__name__)


@receiver(job_succeeded)
def _refresh_after_run(sender: Any, job: Job, **kwargs: Any) -> None:
    from dashboards.services.rollups import is_reconcile_run, rollups_request

    if not settings.ROLLUPS_AFTER_RECONCILE or not is_reconcile_run(job):
        return
    try:
        rollups_request(organization=job.organization, run=job, created_by=job.created_by)
    except Exception:  # never fail the run for the follow-up (beat refreshes nightly)
        logger.exception("could not queue the margin rollups after run %s", job.pk)


@receiver(measures_rebuilt)
def _forget_after_build(sender: Any, organization_id: int, **kwargs: Any) -> None:
    from dashboards.rollup_cache import rollup_generation_advance

    rollup_generation_advance(organization_id)  # once the build commits
