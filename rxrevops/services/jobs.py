"""Background jobs: create, enqueue, claim, report progress, finish.

Apps register a handler per job kind (`@job_handler("pms", queue="ingest")`). The single task
`rxrevops.tasks.job_run` claims the job and calls the handler. A handler must be idempotent:
it may run again after a crash (its upserts make the second run equal to the first).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import F, Q
from django.dispatch import Signal
from django.utils import timezone

from rxrevops.models import Job, Location, Organization

logger = logging.getLogger(__name__)

MAX_STORED_ERRORS = 1000
# a job that has crashed its worker this many times is failed instead of resent forever
MAX_ATTEMPTS = 5
# pg advisory-lock namespace for job claims (two-int form: namespace, job id)
_LOCK_NAMESPACE = 7201
# pg advisory-lock namespace for "queue one unless one is waiting" (two-int form: namespace,
# organization id)
_REQUEST_LOCK_NAMESPACE = 7203


# Sent after a job succeeds and its row is committed (kwargs: job). Apps above the platform
# use it to chain work, e.g. adherence rebuilds worklists after a PMS import.
job_succeeded = Signal()
# Sent after a job is failed and the row committed (kwargs: job): webhooks report it.
job_failed = Signal()


class JobFailed(Exception):
    """Raised by a handler to fail its job with a message and row-level errors for the user."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []


@dataclass(frozen=True)
class JobHandler:
    kind: str
    queue: str
    func: Callable[[Job, Progress], Mapping[str, Any] | None]


_HANDLERS: dict[str, JobHandler] = {}


def job_handler(
    kind: str, *, queue: str = "default"
) -> Callable[[Callable[[Job, Progress], Mapping[str, Any] | None]], Any]:
    """Register the function that runs jobs of `kind` on `queue`."""
    if queue not in settings.RXREVOPS_QUEUES:
        raise ValueError(f"Unknown queue {queue!r}")

    def register(
        func: Callable[[Job, Progress], Mapping[str, Any] | None],
    ) -> Callable[[Job, Progress], Mapping[str, Any] | None]:
        _HANDLERS[kind] = JobHandler(kind=kind, queue=queue, func=func)
        return func

    return register


def job_handler_for(kind: str) -> JobHandler:
    try:
        return _HANDLERS[kind]
    except KeyError:
        raise LookupError(f"No handler registered for job kind {kind!r}") from None


class Progress:
    """What a handler uses to report progress; every call is one small UPDATE."""

    def __init__(self, job: Job) -> None:
        self.job = job

    def set_total(self, total: int) -> None:
        self._update(progress_total=total)

    def advance(self, done: int, **counts: int) -> None:
        """Record absolute progress and counts (absolute, so a rerun overwrites, not adds)."""
        self.job.counts.update(counts)
        self._update(progress_done=done, counts=self.job.counts)

    def _update(self, **fields: Any) -> None:
        fields["heartbeat_at"] = timezone.now()
        Job.objects.filter(pk=self.job.pk).update(**fields)
        for name, value in fields.items():
            setattr(self.job, name, value)


def job_create(
    *,
    organization: Organization,
    kind: str,
    location: Location | None = None,
    params: Mapping[str, Any] | None = None,
    label: str = "",
    created_by: User | None = None,
    enqueue: bool = True,
) -> Job:
    """Create a job row and, once the transaction commits, send it to its queue."""
    job_handler_for(kind)  # fail now, not in the worker, for a kind nobody handles
    if location is not None and location.organization_id != organization.pk:
        raise ValueError("The job's location is not in its organization")
    job = Job.objects.create(
        organization=organization,
        location=location,
        kind=kind,
        label=label,
        params=dict(params or {}),
        created_by=created_by,
    )
    if enqueue:
        transaction.on_commit(lambda: job_enqueue(job=job))
    return job


@contextmanager
def job_request_lock(*, organization: Organization) -> Iterator[None]:
    """One "is a job already waiting? if not, create one" at a time per organization (a
    transaction-level lock, held until the new job row is committed). Without it two callers
    at once (beat firing twice, two imports finishing together) both find nothing waiting and
    both queue a job. The caller's first query must come after the lock is taken, so it sees
    what the previous holder committed."""
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [_REQUEST_LOCK_NAMESPACE, organization.pk]
            )
        yield


def job_enqueue(*, job: Job) -> bool:
    """Send the job's task. If the broker is down the job stays queued and the
    `jobs_requeue_stalled` beat task sends it once the broker is back."""
    handler = job_handler_for(job.kind)
    try:
        current_app.send_task(
            "rxrevops.tasks.job_run",
            args=[job.pk],
            queue=handler.queue,
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5},
        )
    except Exception:  # broker unreachable: the job row is the source of truth
        logger.warning("job %s: broker unavailable, left queued for requeue", job.pk, exc_info=True)
        return False
    return True


class _Claim:
    """A session-level advisory lock on the job: held while a worker runs it, released by
    Postgres if the worker dies, so a redelivered message can tell "running elsewhere" from
    "orphaned by a crash"."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.held = False

    def __enter__(self) -> _Claim:
        with connection.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, self.job_id])
            self.held = bool(cur.fetchone()[0])
        return self

    def __exit__(self, *exc: object) -> None:
        if self.held:
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_NAMESPACE, self.job_id])


def job_execute(*, job_id: int) -> Job | None:
    """Run one job to completion. Safe to call for the same job any number of times, from
    any number of workers: only one runs it, and a finished job is left alone."""
    with _Claim(job_id) as claim:
        if not claim.held:
            logger.info("job %s is being run by another worker", job_id)
            return None
        now = timezone.now()
        claimed = Job.objects.filter(
            pk=job_id, status__in=[Job.Status.QUEUED, Job.Status.RUNNING]
        ).update(
            status=Job.Status.RUNNING,
            attempts=F("attempts") + 1,
            started_at=now,
            heartbeat_at=now,
        )
        if not claimed:
            return None
        job = Job.objects.get(pk=job_id)
        if job.attempts > MAX_ATTEMPTS:
            return job_fail(job=job, message=f"Gave up after {MAX_ATTEMPTS} attempts.")
        try:
            handler = job_handler_for(job.kind)
        except LookupError as exc:  # a worker without the app that registers this kind
            return job_fail(job=job, message=str(exc))
        try:
            counts = handler.func(job, Progress(job)) or {}
        except JobFailed as failure:
            return job_fail(job=job, message=failure.message, errors=failure.errors)
        except Exception as exc:
            if _is_transient(exc):
                # let the task retry: the job stays running and is resumed
                raise
            logger.exception("job %s (%s) crashed", job.pk, job.kind)
            return job_fail(job=job, message=f"Internal error: {type(exc).__name__}")
        return job_succeed(job=job, counts=counts)


def _is_transient(exc: Exception) -> bool:
    from django.db import InterfaceError, OperationalError

    return isinstance(exc, OperationalError | InterfaceError | ConnectionError)


def job_succeed(*, job: Job, counts: Mapping[str, Any]) -> Job:
    job.counts = {**job.counts, **counts}
    job.status = Job.Status.SUCCEEDED
    job.finished_at = timezone.now()
    if job.progress_total is not None:
        job.progress_done = job.progress_total
    job.save(update_fields=["counts", "status", "finished_at", "progress_done"])
    transaction.on_commit(lambda: job_succeeded.send(sender=Job, job=job))
    return job


def job_fail(*, job: Job, message: str, errors: list[dict[str, Any]] | None = None) -> Job:
    errors = errors or []
    job.status = Job.Status.FAILED
    job.message = message
    job.errors = errors[:MAX_STORED_ERRORS]
    job.error_count = len(errors)
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "message", "errors", "error_count", "finished_at"])
    transaction.on_commit(lambda: job_failed.send(sender=Job, job=job))
    return job


def jobs_requeue_stalled(*, older_than_seconds: int | None = None) -> list[int]:
    """Resend jobs whose message was lost: still queued after a while (broker was down when
    they were created) or running with no heartbeat (worker gone). The claim lock makes a
    resend of a job that is in fact running harmless."""
    age = timedelta(
        seconds=older_than_seconds if older_than_seconds is not None else settings.JOB_STALL_SECONDS
    )
    cutoff = timezone.now() - age
    stalled = list(
        Job.objects.filter(
            Q(status=Job.Status.QUEUED, created_at__lt=cutoff)
            | Q(status=Job.Status.RUNNING, heartbeat_at__lt=cutoff)
        ).order_by("pk")
    )
    resent = [job.pk for job in stalled if job.kind in _HANDLERS and job_enqueue(job=job)]
    return resent
