"""Postgres restarted while a job is mid-run: the attempt fails cleanly (its transaction rolled
back with the ended session, nothing half-written, the job not marked succeeded), the task
is retried once the database is back, and the retry ends where an uninterrupted run ends.

Never the machine's shared Postgres: a cluster of the test's own (`private_postgres`), with
the schema migrated and the small world loaded by a child process, and a real Celery worker
pointed at it. The job is provably mid-run when the cluster goes down: the test holds a lock
on a table the job writes late and restarts once the job's session waits on it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.faults.conftest import QUEUE, PrivatePostgres, blocked_on, fetch_one, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def job_row(pg: PrivatePostgres, job_id: int) -> dict[str, Any]:
    with psycopg.connect(pg.conninfo, autocommit=True) as conn:
        status, attempts, message, counts = fetch_one(
            conn,
            "SELECT status, attempts, message, counts FROM rxrevops_job WHERE id = %s",
            [job_id],
        )
    return {"status": status, "attempts": attempts, "message": message, "counts": counts}


def test_postgres_restarted_mid_reconciliation_run_is_retried_and_ends_as_an_uninterrupted_run(
    private_postgres: PrivatePostgres,
    world_files: Path,
    start_worker: Any,
    transactional_db: Any,  # the session's test database: left in order at the end
) -> None:
    from celery import current_app

    pg = private_postgres
    ready = json.loads(
        pg.python("-m", "tests.faults.private_world", "reconciliation", str(world_files))
    )
    job_id = ready["job"]
    worker = start_worker("pg-restart", env_extra={"DATABASE_URL": pg.url})

    lock = psycopg.connect(pg.conninfo, autocommit=True)
    lock.execute("BEGIN")
    # the run writes unmatched payments after it has matched and copied in its results
    lock.execute("LOCK TABLE reconciliation_unmatchedpayment IN EXCLUSIVE MODE")
    current_app.send_task("rxrevops.tasks.job_run", args=[job_id], queue=QUEUE)
    wait_until(lambda: blocked_on(lock, pg.conninfo), timeout=120)
    mid = job_row(pg, job_id)
    assert (mid["status"], mid["attempts"]) == ("running", 1)

    pg.restart()  # ends every session: the run's, mid-transaction, and the lock holder's
    with pytest.raises(psycopg.OperationalError):
        lock.execute("ROLLBACK")  # its session is gone with the lock
    lock.close()

    done = wait_until(
        lambda: (row := job_row(pg, job_id))["status"] in ("succeeded", "failed") and row,
        timeout=120,
    )
    assert done["status"] == "succeeded", done["message"]
    assert done["attempts"] == 2  # the attempt the restart ended, and the retry
    assert json.loads(pg.python("-m", "tests.faults.private_world", "digest")) == ready["expected"]
    assert {k: done["counts"][k] for k in ready["counts"]} == ready["counts"]
    assert "Retry in" in worker.logs()  # the task was retried, not redelivered
