"""Redis stopped during an upload: the upload is stored and its job shown waiting; when Redis
is back, beat's `jobs_requeue_stalled` sends the job and a worker runs it.

The shared Redis is never touched: the web process (gunicorn) and the worker of this test
use a private `redis-server` on a free port, which the test stops and starts. Beat fires
`requeue-stalled-jobs` every minute; the test publishes that same beat message itself once
Redis is back instead of waiting for the minute (the worker is told a job is stalled after
one second, JOB_STALL_SECONDS=1)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from celery import current_app
from django.conf import settings

from reconciliation.models import ClaimPayment
from rxrevops.models import ImportFile, Job
from rxrevops.services.imports import import_file_path
from rxrevops.services.tokens import api_token_create
from tests.conftest import ARTIFACTS, ROOT, _database_url
from tests.faults.conftest import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PrivateRedis:
    port: int = field(default_factory=_free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=(ARTIFACTS / "redis-private.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        client = redis.Redis.from_url(self.url)
        wait_until(lambda: self._pings(client), timeout=20, interval=0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)  # gone at once, like a crashed server
            self.proc.wait()
        self.proc = None

    @staticmethod
    def _pings(client: redis.Redis) -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    ARTIFACTS.mkdir(exist_ok=True)
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def web(private_redis: PrivateRedis, django_db_setup: Any) -> Iterator[str]:
    """gunicorn serving the app on the test database, its broker the private Redis."""
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": _database_url(settings.DATABASES["default"]["NAME"]),
        "REDIS_URL": private_redis.url,
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "rxrevops.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
        stdout=(ARTIFACTS / "gunicorn-faults.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=2)  # noqa: S310
        except urllib.error.HTTPError:
            return True  # answering, whatever it says about its services
        except OSError:
            return False
        return True

    try:
        wait_until(up, timeout=60)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def _request(url: str, token: str, *, body: bytes | None = None, ctype: str = "") -> Any:
    request = urllib.request.Request(url, data=body, method="POST" if body else "GET")  # noqa: S310
    request.add_header("Authorization", f"Token {token}")
    if ctype:
        request.add_header("Content-Type", ctype)
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        return response.status, json.loads(response.read())


def _multipart(fields: dict[str, str], name: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = "----rxrevops-faults"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"'
        "\r\nContent-Type: application/octet-stream\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), (
        f"multipart/form-data; boundary={boundary}"
    )


def test_an_upload_while_redis_is_down_is_stored_waits_and_runs_when_redis_returns(
    stores: SimpleNamespace,
    world_files: Path,
    world_manifest: dict[str, Any],
    transactional_db: Any,
    private_redis: PrivateRedis,
    web: str,
    start_worker: Any,
    login: Any,
) -> None:
    token = api_token_create(
        organization=stores.org, name="clearinghouse", scopes=["remits:write", "jobs:read"]
    ).key
    entry = next(e for e in world_manifest["files"] if e["kind"] == "remit_835")
    data = (world_files / entry["path"]).read_bytes()

    private_redis.stop()
    body, ctype = _multipart({"kind": "x12_835"}, "file", "remit.835", data)
    status, created = _request(web + "/api/v1/imports/", token, body=body, ctype=ctype)
    assert status == 202, created

    # the upload is stored, byte for byte, and its job is waiting
    job = Job.objects.get(pk=created["id"])
    stored = ImportFile.objects.get(pk=job.params["import_file"])
    assert import_file_path(stored).read_bytes() == data
    assert job.status == Job.Status.QUEUED
    # its task message could not be sent: the job row is what will bring it back
    log = (ARTIFACTS / "gunicorn-faults.log").read_text()
    assert f"job {job.pk}: broker unavailable, left queued for requeue" in log
    _, seen = _request(f"{web}/api/v1/jobs/{job.pk}/", token)
    assert seen["status"] == "queued"
    page = login(stores.owner).get(f"/jobs/{job.pk}/").content.decode()
    assert 'class="status status-queued">Waiting' in page
    assert not ClaimPayment.objects.exists()

    private_redis.start()  # back, empty: the message that was never sent is not in it
    start_worker(
        "after-outage",
        redis_url=private_redis.url,
        queues=list(settings.RXREVOPS_QUEUES),
        env_extra={"JOB_STALL_SECONDS": "1"},
    )
    with current_app.connection_for_write(private_redis.url) as conn:
        current_app.send_task(
            "rxrevops.tasks.jobs_requeue_stalled", connection=conn, queue="default"
        )
    done = wait_until(lambda: (j := Job.objects.get(pk=job.pk)).is_finished and j, timeout=120)
    assert done.status == Job.Status.SUCCEEDED, done.message
    assert done.attempts == 1
    assert ClaimPayment.objects.count() == entry["claims"]
    _, seen = _request(f"{web}/api/v1/jobs/{job.pk}/", token)
    assert seen["status"] == "succeeded"
