"""The test rig: real Postgres (pytest-django), a real Celery worker on the real Redis, and
Playwright driving Debian's Chromium against a live server."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

import tests.support.tasks  # noqa: F401  (test job handlers, also loaded by the test worker)
from rxrevops.models import Role
from tests.factories import LocationFactory, OrganizationFactory, PatientFactory, member

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# around it are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    """Tests that stop a shared service run last, so nothing else sees the outage."""
    items.sort(key=lambda item: item.get_closest_marker("services") is not None)


# --- tenants ------------------------------------------------------------------------------


@pytest.fixture
def chain(db: Any) -> SimpleNamespace:
    """One chain with stores A and B, a user per role, and a patient at each store."""
    org = OrganizationFactory.create(name="Maple Pharmacies", slug="maple")
    loc_a = LocationFactory.create(organization=org, name="Maple A")
    loc_b = LocationFactory.create(organization=org, name="Maple B")
    return SimpleNamespace(
        org=org,
        loc_a=loc_a,
        loc_b=loc_b,
        owner=member(organization=org, role=Role.OWNER),
        revenue=member(organization=org, role=Role.REVENUE),
        pharmacist_b=member(organization=org, role=Role.PHARMACIST, locations=[loc_b]),
        technician_a=member(organization=org, role=Role.TECHNICIAN, locations=[loc_a]),
        patient_a=PatientFactory.create(location=loc_a),
        patient_b=PatientFactory.create(location=loc_b),
    )


@pytest.fixture
def other_chain(db: Any) -> SimpleNamespace:
    org = OrganizationFactory.create(name="Birch Drug", slug="birch")
    loc = LocationFactory.create(organization=org, name="Birch Main")
    return SimpleNamespace(
        org=org,
        loc=loc,
        owner=member(organization=org, role=Role.OWNER),
        patient=PatientFactory.create(location=loc),
    )


@pytest.fixture
def login() -> Any:
    def _login(user: Any) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return _login


@pytest.fixture
def api_login() -> Any:
    def _login(user: Any = None, *, token: str | None = None) -> APIClient:
        client = APIClient()
        if token is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        elif user is not None:
            client.force_login(user)
        return client

    return _login


# --- Redis and a real Celery worker ---------------------------------------------------------


@pytest.fixture(scope="session")
def redis_conn() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)


@dataclass
class WorkerProcess:
    proc: subprocess.Popen[bytes]
    hostname: str
    log: Path

    def logs(self) -> str:
        return self.log.read_text(errors="replace")


def _database_url(database_name: str) -> str:
    """The test database, reached the way the test process reaches it."""
    from urllib.parse import quote

    db = settings.DATABASES["default"]
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{database_name}"


def _start_worker(database_name: str, name: str) -> WorkerProcess:
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / f"celery-{name}.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": _database_url(database_name),
        "REDIS_URL": settings.REDIS_URL,
        "PYTHONPATH": str(ROOT),
    }
    hostname = f"{name}-{os.getpid()}@pytest"
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            "rxrevops",
            "worker",
            "--queues",
            ",".join(settings.RXREVOPS_QUEUES),
            "--concurrency",
            "2",
            "--hostname",
            hostname,
            "--include",
            "tests.support.tasks",
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
    return WorkerProcess(proc=proc, hostname=hostname, log=log)


def _wait_for_heartbeat(conn: redis.Redis, worker: WorkerProcess, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    key = f"rxrevops:worker:{worker.hostname}"
    while time.monotonic() < deadline:
        if worker.proc.poll() is not None:
            raise RuntimeError(f"Celery worker exited early:\n{worker.logs()[-4000:]}")
        if conn.exists(key) and re.search(r"\bready\b", worker.logs()):
            return
        time.sleep(0.2)
    raise RuntimeError(f"Celery worker not ready within {timeout}s:\n{worker.logs()[-4000:]}")


@pytest.fixture(scope="session")
def celery_worker(
    django_db_setup: Any, django_db_blocker: Any, redis_conn: redis.Redis
) -> Iterator[WorkerProcess]:
    """A real `celery worker` process on the test database and the test Redis database.
    Tests using it need `transactional_db` so the worker sees their rows."""
    redis_conn.flushdb()
    database_name = settings.DATABASES["default"]["NAME"]
    worker = _start_worker(database_name, "worker")
    try:
        _wait_for_heartbeat(redis_conn, worker)
        yield worker
    finally:
        os.killpg(worker.proc.pid, signal.SIGTERM)
        try:
            worker.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.proc.pid, signal.SIGKILL)
            worker.proc.wait()


@pytest.fixture(autouse=True)
def _dashboard_answers_forgotten(redis_conn: redis.Redis) -> None:
    """Each test starts with no kept dashboard answer: the test database is emptied between
    tests without a rollup refresh, and a new row may get an id an earlier test used."""
    keys = list(redis_conn.scan_iter(match="*dash:rollups:*", count=1000))
    if keys:
        redis_conn.delete(*keys)


@pytest.fixture(scope="session", autouse=True)
def _test_database_left_alone_at_the_end(
    django_db_setup: Any, django_db_blocker: Any
) -> Iterator[None]:
    """Torn down after the worker and the live server, before the test database is dropped:
    Postgres ends a killed client's backend asynchronously, and the database can only be
    dropped once every other session has gone."""
    yield
    with django_db_blocker.unblock():
        _wait_for_other_sessions_to_leave(settings.DATABASES["default"]["NAME"])


@pytest.fixture(autouse=True)
def _writers_done_before_the_flush(request: Any) -> Iterator[None]:
    """A transactional test's tables are emptied (TRUNCATE) when it ends. A live server's
    thread or a worker may still be finishing a request's transaction then (the client had
    its answer first); the TRUNCATE and that transaction can deadlock. Set up after
    pytest-django's database fixture, so torn down before its flush: wait until no other
    session of the test database is inside a transaction."""
    if not _is_transactional(request):
        yield
        return
    request.getfixturevalue("_django_db_helper")
    yield
    from django.db import connection

    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction')"
    )
    deadline = time.monotonic() + 10
    with connection.cursor() as cur:
        while time.monotonic() < deadline:
            cur.execute(query)
            if not cur.fetchone()[0]:
                return
            time.sleep(0.05)


def _is_transactional(request: Any) -> bool:
    """Whether pytest-django empties this test's tables at its end: asked for by fixture
    (`transactional_db`, `live_server`) or by `@pytest.mark.django_db(transaction=True)`."""
    if {"transactional_db", "live_server"} & set(request.fixturenames):
        return True
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        return False
    return bool(marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences"))


def _wait_for_other_sessions_to_leave(database_name: str, timeout: float = 3) -> None:
    from django.db import connection

    query = "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
    deadline = time.monotonic() + timeout
    with connection.cursor() as cur:
        while True:
            cur.execute(query, [database_name])
            pids = [row[0] for row in cur.fetchall()]
            if not pids:
                return
            if time.monotonic() > deadline:
                for pid in pids:
                    cur.execute("SELECT pg_terminate_backend(%s)", [pid])
                return
            time.sleep(0.2)


def wait_until(predicate: Any, *, timeout: float = 30, interval: float = 0.2) -> Any:
    """Poll until `predicate()` is truthy; return its value or fail with the last one."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    assert value, f"condition not met within {timeout}s"
    return value


# --- Browser ---------------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


class Visitor:
    """A browser page that saves a screenshot of every page it visits."""

    def __init__(self, page: Any, base_url: str, name: str) -> None:
        self.page = page
        self.base_url = base_url
        self.name = re.sub(r"[^\w.-]+", "_", name)
        self.shots = 0
        (ARTIFACTS / "screenshots").mkdir(parents=True, exist_ok=True)

    def goto(self, path: str) -> Any:
        response = self.page.goto(self.base_url + path)
        self.screenshot()
        return response

    def screenshot(self, label: str = "") -> Path:
        self.shots += 1
        suffix = f"-{label}" if label else ""
        path = ARTIFACTS / "screenshots" / f"{self.name}-{self.shots:02d}{suffix}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def browser(chromium: Any, live_server: Any, request: Any) -> Iterator[Visitor]:
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        yield Visitor(page, live_server.url, request.node.name)
    finally:
        context.close()
