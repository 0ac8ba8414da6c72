"""The fault rig: Celery workers of our own, on a queue of our own (the session's shared test
worker never takes these jobs), killed with SIGKILL while a job is provably mid-run: the
test holds a lock on a table the job writes, and kills the worker once its database session
is seen waiting on that lock."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


def _connect(conninfo: str | None = None) -> psycopg.Connection[Any]:
    """A session of the test database, or of the database `conninfo` names."""
    if conninfo is not None:
        return psycopg.connect(conninfo, autocommit=True)
    db = settings.DATABASES["default"]
    return psycopg.connect(
        host=db["HOST"],
        port=db["PORT"],
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=db["NAME"],
        autocommit=True,
    )


def fetch_one(conn: psycopg.Connection[Any], sql: str, params: Any = ()) -> tuple[Any, ...]:
    """The one row `sql` answers."""
    row = conn.execute(sql, params).fetchone()
    assert row is not None, sql
    return tuple(row)


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


def blocked_on(conn: psycopg.Connection[Any], conninfo: str | None = None) -> list[int]:
    """The sessions waiting for a lock `conn` holds. Asked from another session: inside
    `conn`'s transaction pg_stat_activity would answer from its first snapshot."""
    with _connect(conninfo) as other:
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


# --- a Postgres of the test's own, to restart -----------------------------------------------


def _postgres_bin(program: str) -> str:
    """The newest Debian-packaged Postgres server program (initdb, pg_ctl)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{program}"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    if not found:
        raise RuntimeError(f"no {program} under /usr/lib/postgresql/*/bin")
    return str(found[-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PrivatePostgres:
    """A throwaway cluster on a free port (trust auth, socket in its own directory): restarting
    it disturbs nobody, unlike the machine's shared Postgres."""

    root: Path
    port: int
    dbname: str = "rxrevops_private"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{self.dbname}"

    @property
    def conninfo(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={self.dbname}"

    def _run(self, *args: str) -> None:
        # Postgres will not run as root: as the postgres user then
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}{done.stderr}")

    def pg_ctl(self, *args: str) -> None:
        self._run(_postgres_bin("pg_ctl"), "-D", str(self.data), "-w", *args)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.pg_ctl("-l", str(self.root / "postgres.log"), "-o", options, "start")

    def restart(self) -> None:
        """Stop (fast: every session is ended, open transactions rolled back) and start."""
        self.pg_ctl("-m", "fast", "stop")
        self.start()

    def python(self, *args: str) -> str:
        """`python <args>` with Django on this cluster's database (manage.py, a helper
        module); its output."""
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": self.url,
            "PYTHONPATH": str(ROOT),
        }
        done = subprocess.run(
            [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-4000:]
        return done.stdout


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A migrated database on a cluster of its own, removed at the end."""
    root = Path(tempfile.mkdtemp(prefix="rxrevops-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres")
    pg = PrivatePostgres(root=root, port=_free_port())
    try:
        pg._run(
            _postgres_bin("initdb"), "-D", str(pg.data), "-A", "trust", "-U", "postgres",
            "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        pg.start()
        with psycopg.connect(
            f"host=127.0.0.1 port={pg.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f"CREATE DATABASE {pg.dbname}")
        pg.python(str(ROOT / "manage.py"), "migrate", "--verbosity", "0")
        yield pg
    finally:
        try:
            if (pg.data / "postmaster.pid").exists():
                pg.pg_ctl("-m", "immediate", "stop")
        finally:
            shutil.rmtree(root, ignore_errors=True)
