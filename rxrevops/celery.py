"""The Celery app. Tasks are one-liners that call services (see STYLE.md)."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from typing import Any

from celery import Celery, bootsteps
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rxrevops.settings")

app = Celery("rxrevops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

WORKER_KEY_PREFIX = "rxrevops:worker:"


@setup_logging.connect
def _application_logging(**kwargs: Any) -> None:
    """Workers and beat log through the application's LOGGING (its PhiSafeFormatter keeps
    patient values out of a failed task's traceback) instead of Celery's own set-up."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Writes `rxrevops:worker:<hostname>` to Redis every few seconds with a short expiry, so
    /healthz can tell a live worker from a dead one without broadcasting to the cluster."""

    requires = ("celery.worker.components:Timer",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.tref: Any = None

    def start(self, worker: Any) -> None:
        from django.conf import settings

        self.interval = settings.WORKER_HEARTBEAT_SECONDS
        self.key = WORKER_KEY_PREFIX + (worker.hostname or socket.gethostname())
        self.beat(worker)
        self.tref = worker.timer.call_repeatedly(self.interval, self.beat, (worker,), priority=10)

    def beat(self, worker: Any) -> None:
        from rxrevops.health import redis_client

        # a missed beat is exactly what the health check is there to notice
        with contextlib.suppress(Exception):
            redis_client().set(self.key, f"{time.time():.0f}", ex=self.interval * 3)

    def stop(self, worker: Any) -> None:
        from rxrevops.health import redis_client

        if self.tref is not None:
            self.tref.cancel()
        with contextlib.suppress(Exception):  # the key expires on its own
            redis_client().delete(self.key)


app.steps["worker"].add(WorkerHeartbeat)
