"""The fault rig: Celery workers of our own, on a queue of our own (the session's shared test
worker never takes these jobs), killed with SIGKILL while a job is provably mid-run: the
test holds a lock on a table the job writes, and kills the worker once its database session
is seen waiting on that lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from celery import current_app
from django.conf import settings

from rxrevops.models import Job
from rxrevops.services.jobs import _LOCK_NAMESPACE
from tests.conftest import ARTIFACTS, ROOT, WorkerProcess, _database_url, _wait_for_heartbeat
from tests.conftest import wait_until as wait_until
from tests.support.adherence_world import worklist_chain
from tests.support.pms_fixtures import stores, world_files, world_manifest

__all__ = ["stores", "worklist_chain", "world_files", "world_manifest"]

QUEUE = f"faults-{os.getpid()}"


def _connect() -> psycopg.Connection[Any]:
    db = settings.DATABASES["default"]
    return psycopg.connect(
        host=db["HOST"],
        port=db["PORT"],
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=db["NAME"],
        autocommit=True,
    )


@pytest.fixture
def start_worker(
    django_db_setup: Any, redis_conn: redis.Redis
) -> Iterator[Callable[..., WorkerProcess]]:
    """Start `celery worker` processes on this module's queue; all are stopped at the end."""
    started: list[WorkerProcess] = []

    def start(
        name: str,
        *,
        visibility_timeout: int | None = None,
        redis_url: str | None = None,
        queues: list[str] | None = None,
        env_extra: dict[str, str] | None = None,
    ) -> WorkerProcess:
        ARTIFACTS.mkdir(exist_ok=True)
        log = ARTIFACTS / f"celery-faults-{name}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": _database_url(settings.DATABASES["default"]["NAME"]),
            "REDIS_URL": redis_url or settings.REDIS_URL,
            "PYTHONPATH": str(ROOT),
            **(env_extra or {}),
        }
        if visibility_timeout is not None:
            env["CELERY_VISIBILITY_TIMEOUT"] = str(visibility_timeout)
        hostname = f"faults-{name}-{os.getpid()}@pytest"
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "rxrevops",
                "worker",
                "--queues",
                ",".join(queues or [QUEUE]),
                "--concurrency",
                "1",
                "--hostname",
                hostname,
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        worker = WorkerProcess(proc=proc, hostname=hostname, log=log)
        started.append(worker)
        if redis_url is None:
            _wait_for_heartbeat(redis_conn, worker)
        else:
            _wait_for_heartbeat(redis.Redis.from_url(redis_url, decode_responses=True), worker)
        return worker

    yield start
    for worker in started:
        if worker.proc.poll() is None:
            os.killpg(worker.proc.pid, signal.SIGTERM)
            try:
                worker.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.proc.pid, signal.SIGKILL)
                worker.proc.wait()


def send(job: Job) -> None:
    """The job's task message, on this module's queue (what job_enqueue sends elsewhere)."""
    current_app.send_task("rxrevops.tasks.job_run", args=[job.pk], queue=QUEUE)


def kill(worker: WorkerProcess) -> None:
    """SIGKILL the whole worker, main process and pool child, like a node that dies."""
    os.killpg(worker.proc.pid, signal.SIGKILL)
    worker.proc.wait()


@contextmanager
def table_locked(table: str, mode: str = "ACCESS EXCLUSIVE") -> Iterator[psycopg.Connection[Any]]:
    """`table` locked by another session until the block ends."""
    with _connect() as conn:
        conn.execute("BEGIN")
        conn.execute(f"LOCK TABLE {table} IN {mode} MODE")
        try:
            yield conn
        finally:
            conn.execute("ROLLBACK")


def blocked_on(conn: psycopg.Connection[Any]) -> list[int]:
    """The sessions waiting for a lock `conn` holds. Asked from another session: inside
    `conn`'s transaction pg_stat_activity would answer from its first snapshot."""
    with _connect() as other:
        rows = other.execute(
            "SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
            [conn.info.backend_pid],
        ).fetchall()
    return [r[0] for r in rows]


def claim_holders(job: Job) -> list[int]:
    """The sessions holding the job's claim (the advisory lock `job_execute` takes)."""
    with _connect() as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s "
            "AND objid = %s AND granted",
            [_LOCK_NAMESPACE, job.pk],
        ).fetchall()
    return [r[0] for r in rows]
