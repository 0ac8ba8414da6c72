"""/healthz reports the database, Redis and the Celery workers, and fails when one is down."""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Iterator
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


PRIVATE_REDIS_PORT = 6391


def _redis_up(port: int) -> bool:
    try:
        return bool(redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


def _start_private_redis(port: int) -> subprocess.Popen[bytes]:
    """A Redis of the test's own, so stopping it disturbs nothing else on the machine."""
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            tempfile.gettempdir(),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while not _redis_up(port):
        assert proc.poll() is None, "redis-server exited"
        assert time.monotonic() < deadline, "Redis did not start"
        time.sleep(0.1)
    return proc


@pytest.mark.services
def test_healthz_fails_while_redis_is_stopped_and_recovers_after(
    client: Any, db: Any, fresh_health_client: None
) -> None:
    port = PRIVATE_REDIS_PORT
    url = f"redis://127.0.0.1:{port}/0"
    proc = _start_private_redis(port)
    try:
        with override_settings(REDIS_URL=url):
            health.redis_client.cache_clear()
            # a live worker's heartbeat, as WorkerHeartbeat writes it
            redis.Redis.from_url(url).set("rxrevops:worker:w1@test", "1", ex=60)
            assert client.get("/healthz").status_code == 200

            redis.Redis.from_url(url).shutdown(nosave=True)
            proc.wait(timeout=10)
            response = client.get("/healthz")
            body = response.json()
            assert response.status_code == 503
            assert body["checks"]["redis"]["ok"] is False
            assert body["checks"]["database"]["ok"] is True

            proc = _start_private_redis(port)
            redis.Redis.from_url(url).set("rxrevops:worker:w1@test", "1", ex=60)
            assert client.get("/healthz").status_code == 200
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)
