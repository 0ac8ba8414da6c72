"""Jobs: run by a real Celery worker, with progress and errors recorded on the job row, and
finished correctly after the worker process is killed mid-run."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import transaction

from rxrevops.models import Job
from rxrevops.services.jobs import _LOCK_NAMESPACE, job_create, job_execute, jobs_requeue_stalled
from tests.conftest import WorkerProcess, wait_until


def _job_done(pk: int) -> Job | None:
    job = Job.objects.get(pk=pk)
    return job if job.is_finished else None


@pytest.mark.integration
def test_worker_runs_a_job_and_records_progress_and_counts(
    chain: Any, transactional_db: Any, celery_worker: WorkerProcess
) -> None:
    with transaction.atomic():
        job = job_create(
            organization=chain.org, location=chain.loc_a, kind="test.count", params={"n": 7}
        )
    done = wait_until(lambda: _job_done(job.pk))
    assert done.status == Job.Status.SUCCEEDED
    assert (done.progress_done, done.progress_total, done.percent) == (7, 7, 100)
    assert done.counts == {"counted": 7}
    assert done.attempts == 1


@pytest.mark.integration
def test_job_killed_with_its_worker_process_finishes_on_redelivery(
    chain: Any, transactional_db: Any, celery_worker: WorkerProcess
) -> None:
    job = job_create(organization=chain.org, kind="test.crash_once")
    done = wait_until(lambda: _job_done(job.pk), timeout=60)
    assert done.status == Job.Status.SUCCEEDED
    assert done.attempts == 2
    assert done.counts == {"survived_attempt": 2}
    assert "WorkerLostError" in celery_worker.logs() or "SIGKILL" in celery_worker.logs()


@pytest.mark.integration
def test_failed_job_keeps_every_row_error_for_the_user(
    chain: Any, transactional_db: Any, celery_worker: WorkerProcess, login: Any, api_login: Any
) -> None:
    job = job_create(organization=chain.org, location=chain.loc_a, kind="test.bad_rows")
    done = wait_until(lambda: _job_done(job.pk))
    assert done.status == Job.Status.FAILED
    assert done.error_count == 2
    page = login(chain.owner).get(f"/jobs/{job.pk}/").content.decode()
    assert "NDC must have 11 digits" in page
    assert "2 rows could not be read" in page
    body = api_login(chain.owner).get(f"/api/v1/jobs/{job.pk}/").json()
    assert body["status"] == "failed"
    assert body["errors"][1]["field"] == "date_of_service"


@pytest.mark.integration
def test_job_left_queued_while_the_broker_was_down_runs_when_requeued(
    chain: Any, transactional_db: Any, celery_worker: WorkerProcess
) -> None:
    job = job_create(organization=chain.org, kind="test.count", params={"n": 2}, enqueue=False)
    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED
    assert jobs_requeue_stalled(older_than_seconds=0) == [job.pk]
    assert wait_until(lambda: _job_done(job.pk)).status == Job.Status.SUCCEEDED


def test_running_a_finished_job_again_changes_nothing(chain: Any) -> None:
    job = job_create(organization=chain.org, kind="test.count", params={"n": 3}, enqueue=False)
    first = job_execute(job_id=job.pk)
    assert first is not None
    assert first.status == Job.Status.SUCCEEDED
    assert job_execute(job_id=job.pk) is None
    job.refresh_from_db()
    assert (job.attempts, job.counts) == (1, {"counted": 3})


def test_a_job_held_by_another_worker_is_not_run_twice(chain: Any, transactional_db: Any) -> None:
    job = job_create(organization=chain.org, kind="test.count", enqueue=False)
    db = settings.DATABASES["default"]
    other = psycopg.connect(
        host=db["HOST"],
        port=db["PORT"],
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=db["NAME"],
    )
    try:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, job.pk])
        assert job_execute(job_id=job.pk) is None
        assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED
    finally:
        other.close()  # a dead worker's connection closes the same way, releasing the lock
    # Postgres ends the closed session's backend, and frees its lock, a moment later
    finished = wait_until(lambda: job_execute(job_id=job.pk), timeout=10)
    assert finished.status == Job.Status.SUCCEEDED


def test_two_workers_racing_for_one_job_run_it_once(chain: Any, transactional_db: Any) -> None:
    job = job_create(organization=chain.org, kind="test.count", params={"n": 50}, enqueue=False)
    results: list[Any] = []

    def run() -> None:
        from django.db import connection

        try:
            results.append(job_execute(job_id=job.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    job.refresh_from_db()
    assert job.attempts == 1
    assert job.status == Job.Status.SUCCEEDED
    assert sum(r is not None for r in results) == 1


def test_job_page_polls_until_finished_then_stops(chain: Any, login: Any) -> None:
    job = job_create(organization=chain.org, kind="test.count", enqueue=False)
    client = login(chain.owner)
    assert 'hx-trigger="every 2s"' in client.get(f"/jobs/{job.pk}/").content.decode()
    job_execute(job_id=job.pk)
    partial = client.get(f"/jobs/{job.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 2s"' not in partial
    assert "<html" not in partial
    assert "Done" in partial


def test_unknown_job_kind_is_refused_before_anything_is_stored(chain: Any) -> None:
    with pytest.raises(LookupError, match="no-such-kind"):
        job_create(organization=chain.org, kind="no-such-kind")
    assert not Job.objects.exists()


def test_a_job_that_keeps_killing_its_worker_is_failed_instead_of_resent_forever(
    chain: Any,
) -> None:
    from rxrevops.services.jobs import MAX_ATTEMPTS

    job = job_create(organization=chain.org, kind="test.count", enqueue=False)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, attempts=MAX_ATTEMPTS)
    failed = job_execute(job_id=job.pk)
    assert failed is not None
    assert failed.status == Job.Status.FAILED
    assert failed.message == f"Gave up after {MAX_ATTEMPTS} attempts."


def test_a_job_whose_kind_this_worker_does_not_know_fails_with_the_reason(chain: Any) -> None:
    job = job_create(organization=chain.org, kind="test.count", enqueue=False)
    Job.objects.filter(pk=job.pk).update(kind="retired.kind")
    failed = job_execute(job_id=job.pk)
    assert failed is not None
    assert failed.status == Job.Status.FAILED
    assert "retired.kind" in failed.message
