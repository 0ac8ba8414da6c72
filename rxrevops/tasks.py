"""Platform tasks: run any job, resend stalled ones, prove beat is alive."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from rxrevops import health
from rxrevops.services import idempotency, jobs


@shared_task(
    autoretry_for=(OperationalError, InterfaceError, ConnectionError),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=10,
)
def job_run(job_id: int) -> None:
    jobs.job_execute(job_id=job_id)


@shared_task
def jobs_requeue_stalled() -> list[int]:
    return jobs.jobs_requeue_stalled()


@shared_task
def beat_heartbeat() -> None:
    health.beat_heartbeat_record()


@shared_task
def idempotency_keys_purge() -> int:
    return idempotency.idempotency_purge_expired()
