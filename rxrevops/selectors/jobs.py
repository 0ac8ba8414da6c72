from __future__ import annotations

from typing import Any

from rxrevops.access import Principal, object_get_for_user
from rxrevops.models import Job


def job_list_for_user(user: Principal) -> Any:
    return Job.objects.for_user(user).select_related("location", "organization")


def job_get_for_user(*, user: Principal, job_id: int) -> Job:
    job: Job = object_get_for_user(Job.objects, user=user, pk=job_id)
    return job


def quarantine_for_job(job: Job) -> Any:
    """The rows an import could not load, in file order (the job was fetched for the user)."""
    from rxrevops.models import QuarantinedRow

    return QuarantinedRow.objects.filter(job=job).order_by("line", "pk")


def import_job_list_for_user(user: Principal, *, kinds: tuple[str, ...]) -> Any:
    return job_list_for_user(user).filter(kind__in=kinds)
