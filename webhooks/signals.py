"""Events out of the platform's jobs: an import or run finished or failed, and a
reconciliation run that leaves exceptions to work."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.dispatch import receiver
from django.urls import reverse

from reconciliation.result_selectors import exception_summary_for_user
from reconciliation.services.runs import JOB_KIND as RECONCILE
from rxrevops.access import TokenPrincipal
from rxrevops.models import ApiToken, Job
from rxrevops.selectors.jobs import job_list_for_user
from rxrevops.services.jobs import job_failed, job_succeeded
from webhooks.models import Event, ExceptionsSeen, WebhookDelivery
from webhooks.services import webhook_emit

logger = logging.getLogger(__name__)


def job_data(job: Job) -> dict[str, Any]:
    """What a job event says: the job as GET /api/v1/jobs/{id}/ shows it, without the
    quarantined rows' values (those stay behind the API, which audits who reads them)."""
    return {
        "job": {
            "id": job.pk,
            "kind": job.kind,
            "label": job.label,
            "status": job.status,
            "location": job.location.ncpdp_id if job.location_id and job.location else None,
            "counts": job.counts,
            "error_count": job.error_count,
            "message": job.message,
            "created_at": job.created_at,
            "finished_at": job.finished_at,
            "url": reverse("api:job-detail", args=[job.pk]),
        }
    }


def _job_event(job: Job, event: Event) -> None:
    def payload_for(token: ApiToken) -> dict[str, Any] | None:
        visible = job_list_for_user(TokenPrincipal(token=token)).filter(pk=job.pk).exists()
        return job_data(job) if visible else None

    webhook_emit(
        organization_id=job.organization_id,
        event=event,
        source=f"job:{job.pk}:{job.attempts}" if event == Event.JOB_FAILED else f"job:{job.pk}",
        payload_for=payload_for,
    )


def _last_told(token: ApiToken, *, source: str) -> Any:
    """The exceptions the token's deliveries last told of, before `source` (None: never)."""
    last = (
        WebhookDelivery.objects.filter(endpoint__token=token, event=Event.EXCEPTIONS_FOUND)
        .exclude(source=source)
        .order_by("-created_at", "-pk")
        .values_list("payload", flat=True)
        .first()
    )
    return (last or {}).get("data", {}).get("exceptions")


def _seen_before(token: ApiToken, *, source: str, exceptions: dict[str, Any]) -> Any:
    """Record that run `source` saw `exceptions` for the token; return what the run before it
    saw (None: none looked). Asked again in the same run (the token's other endpoints), the
    answer is the same. A token with no record yet (deliveries from before the record was
    kept) starts from what its deliveries last told."""
    seen = ExceptionsSeen.objects.select_for_update().filter(token=token).first()
    if seen is None:
        before = _last_told(token, source=source)
        ExceptionsSeen.objects.create(
            token=token, source=source, exceptions=exceptions, before=before
        )
        return before
    if seen.source != source:
        seen.before, seen.exceptions, seen.source = seen.exceptions, exceptions, source
        seen.save(update_fields=["before", "exceptions", "source", "updated_at"])
    return seen.before


def _exceptions_event(job: Job) -> None:
    """The open exceptions a token may see, after a run that leaves some: sent when they
    differ from what the run before saw for that token (runs follow every import; the same
    digest after each would bury the one that matters; exceptions that cleared and came back
    are news again)."""

    source = f"job:{job.pk}"

    def payload_for(token: ApiToken) -> dict[str, Any] | None:
        kinds = exception_summary_for_user(TokenPrincipal(token=token))
        exceptions = {k.kind: {"count": k.count, "at_stake_cents": k.cents} for k in kinds}
        before = _seen_before(token, source=source, exceptions=exceptions)
        if not any(k.count for k in kinds) or exceptions == before:
            return None
        data: dict[str, Any] = {
            "exceptions": exceptions,
            "list_url": reverse("api:reconciliation-exception-list"),
        }
        # the run itself only to those who may read it (runs are organization-wide)
        if job_list_for_user(TokenPrincipal(token=token)).filter(pk=job.pk).exists():
            data["run"] = {"id": job.pk, "url": reverse("api:job-detail", args=[job.pk])}
        return data

    with transaction.atomic():  # the record and the deliveries it decided
        webhook_emit(
            organization_id=job.organization_id,
            event=Event.EXCEPTIONS_FOUND,
            source=source,
            payload_for=payload_for,
        )


@receiver(job_succeeded)
def _on_job_succeeded(sender: Any, job: Job, **kwargs: Any) -> None:
    try:
        _job_event(job, Event.JOB_SUCCEEDED)
        if job.kind == RECONCILE:
            _exceptions_event(job)
    except Exception:  # a webhook never fails the work it reports on
        logger.exception("could not queue the webhooks of job %s", job.pk)


@receiver(job_failed)
def _on_job_failed(sender: Any, job: Job, **kwargs: Any) -> None:
    try:
        _job_event(job, Event.JOB_FAILED)
    except Exception:
        logger.exception("could not queue the webhooks of job %s", job.pk)
