"""/healthz reports the database, Redis and the Celery workers, and fails when one is down."""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.test import override_settings

from rxrevops import health
from tests.conftest import WorkerProcess


@pytest.fixture
def fresh_health_client() -> Iterator[None]:
    health.redis_client.cache_clear()
    yield
    health.redis_client.cache_clear()


def test_healthz_is_ok_with_database_redis_and_a_live_worker(
    client: Any, transactional_db: Any, celery_worker: WorkerProcess, fresh_health_client: None
) -> None:
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert {k: v["ok"] for k, v in body["checks"].items() if k != "beat"} == {
        "database": True,
        "redis": True,
        "workers": True,
    }
    assert celery_worker.hostname in body["checks"]["workers"]["detail"]


def test_healthz_fails_when_no_worker_has_a_heartbeat(
    client: Any, db: Any, fresh_health_client: None
) -> None:
    # a Redis database no worker writes to: the same check, with no heartbeat to find
    with override_settings(REDIS_URL="redis://127.0.0.1:6379/13"):
        health.redis_client.cache_clear()
        redis.Redis.from_url("redis://127.0.0.1:6379/13").flushdb()
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["workers"] == {"ok": False, "detail": "no worker heartbeat"}


def _redis_up() -> bool:
    try:
        return bool(redis.Redis(host="127.0.0.1", port=6379, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


def _start_redis() -> None:
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "-::1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            tempfile.gettempdir(),
            "--logfile",
            str(Path(tempfile.gettempdir()) / "rxrevops-redis.log"),
        ],
        check=True,
    )
    deadline = time.monotonic() + 15
    while not _redis_up():
        assert time.monotonic() < deadline, "Redis did not come back"
        time.sleep(0.2)


@pytest.mark.services
def test_healthz_fails_while_redis_is_stopped_and_recovers_after(
    client: Any, db: Any, fresh_health_client: None
) -> None:
    assert _redis_up()
    redis.Redis(host="127.0.0.1", port=6379).shutdown(nosave=True)
    try:
        time.sleep(0.5)
        response = client.get("/healthz")
        body = response.json()
        assert response.status_code == 503
        assert body["checks"]["redis"]["ok"] is False
        assert body["checks"]["database"]["ok"] is True
    finally:
        if not _redis_up():
            _start_redis()
    health.redis_client.cache_clear()
    assert client.get("/healthz").json()["checks"]["redis"]["ok"] is True
