"""Liveness of what RxRevOps depends on: Postgres, Redis, at least one Celery worker."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache

import redis
from django.conf import settings
from django.db import connection

from rxrevops.celery import WORKER_KEY_PREFIX

BEAT_KEY = "rxrevops:beat"


@lru_cache(maxsize=1)
def redis_client() -> redis.Redis:
    # short timeouts: a health probe must answer quickly even when Redis hangs
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1, decode_responses=True
    )


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_database() -> Check:
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
    except Exception as exc:
        return Check("database", False, type(exc).__name__)
    return Check("database", True, "ok")


def check_redis() -> Check:
    try:
        redis_client().ping()
    except Exception as exc:
        return Check("redis", False, type(exc).__name__)
    return Check("redis", True, "ok")


def check_workers() -> Check:
    try:
        client = redis_client()
        keys = sorted(client.scan_iter(match=WORKER_KEY_PREFIX + "*", count=100))
    except Exception as exc:
        return Check("workers", False, f"unknown ({type(exc).__name__})")
    if not keys:
        return Check("workers", False, "no worker heartbeat")
    names = ", ".join(k.removeprefix(WORKER_KEY_PREFIX) for k in keys)
    return Check("workers", True, f"{len(keys)} alive: {names}")


def check_beat() -> Check:
    """Informational: beat's last tick as executed by a worker."""
    try:
        value = redis_client().get(BEAT_KEY)
    except Exception as exc:
        return Check("beat", False, f"unknown ({type(exc).__name__})")
    if value is None:
        return Check("beat", False, "no tick seen")
    age = int(time.time() - float(value))
    return Check("beat", age < 180, f"last tick {age}s ago")


def beat_heartbeat_record() -> None:
    redis_client().set(BEAT_KEY, f"{time.time():.0f}", ex=3600)


def health_report() -> tuple[bool, list[Check]]:
    """Required checks decide the status; beat is reported but does not fail the probe."""
    required = [check_database(), check_redis(), check_workers()]
    return all(c.ok for c in required), [*required, check_beat()]
