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

HELPER = "tests.faults.private_world"


def job_row(pg: PrivatePostgres, job_id: int) -> dict[str, Any]:
    with psycopg.connect(pg.conninfo, autocommit=True) as conn:
        status, attempts, message, counts, params = fetch_one(
            conn,
            "SELECT status, attempts, message, counts, params FROM rxrevops_job WHERE id = %s",
            [job_id],
        )
    return {
        "status": status,
        "attempts": attempts,
        "message": message,
        "counts": counts,
        "params": params,
    }


def restart_mid_run(
    pg: PrivatePostgres, job_id: int, table: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Send the job, let it run until it waits on `table` (held by the test), restart the
    cluster, and wait until the job has finished; its row just before the restart and at
    the end."""
    from celery import current_app

    lock = psycopg.connect(pg.conninfo, autocommit=True)
    lock.execute("BEGIN")
    lock.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
    current_app.send_task("rxrevops.tasks.job_run", args=[job_id], queue=QUEUE)
    wait_until(lambda: blocked_on(lock, pg.conninfo), timeout=120)
    mid = job_row(pg, job_id)
    assert (mid["status"], mid["attempts"]) == ("running", 1)

    pg.restart()  # ends every session: the job's, mid-transaction, and the lock holder's
    with pytest.raises(psycopg.OperationalError):
        lock.execute("ROLLBACK")  # its session is gone with the lock
    lock.close()
    done = wait_until(
        lambda: (row := job_row(pg, job_id))["status"] in ("succeeded", "failed") and row,
        timeout=120,
    )
    assert done["status"] == "succeeded", done["message"]
    assert done["attempts"] == 2  # the attempt the restart ended, and the retry
    return mid, done


def test_postgres_restarted_mid_reconciliation_run_is_retried_and_ends_as_an_uninterrupted_run(
    private_postgres: PrivatePostgres,
    world_files: Path,
    start_worker: Any,
    transactional_db: Any,  # the session's test database: left in order at the end
) -> None:
    pg = private_postgres
    ready = json.loads(pg.python("-m", HELPER, "reconciliation", str(world_files)))
    worker = start_worker("pg-restart-recon", env_extra={"DATABASE_URL": pg.url})
    # the run writes unmatched payments after it has matched and copied in its results
    _, done = restart_mid_run(pg, ready["job"], "reconciliation_unmatchedpayment")
    assert json.loads(pg.python("-m", HELPER, "digest")) == ready["expected"]
    assert {k: done["counts"][k] for k in ready["counts"]} == ready["counts"]
    assert "Retry in" in worker.logs()  # the task was retried, not redelivered


def test_postgres_restarted_mid_import_is_retried_and_ends_with_the_claims_of_an_uninterrupted_one(
    private_postgres: PrivatePostgres,
    world_files: Path,
    start_worker: Any,
    transactional_db: Any,
) -> None:
    """Batches of 40 rows, each committed with its checkpoint; the third holds a bad row,
    and the quarantine it writes is what the test holds locked: two batches are in when the
    cluster goes down, the third is rolled back with the ended session, and the retry resumes
    after the two."""
    pg = private_postgres
    ready = json.loads(pg.python("-m", HELPER, "pms_import", str(world_files)))
    worker = start_worker("pg-restart-import", env_extra={"DATABASE_URL": pg.url})
    mid, done = restart_mid_run(pg, ready["job"], "rxrevops_quarantinedrow")
    assert mid["params"]["batches_done"] == 2  # two batches committed when it went down
    assert done["params"]["batches_done"] == 5
    after = json.loads(pg.python("-m", HELPER, "fills", str(ready["location"]), str(ready["job"])))
    assert after == ready["expected"]
    assert {k: done["counts"][k] for k in ready["counts"]} == ready["counts"]
    assert "Retry in" in worker.logs()
