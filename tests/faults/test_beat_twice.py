"""Beat firing a scheduled task twice (two beats running by mistake, a schedule replayed after
a restart), one after the other and at the same time from two processes with connections of
their own: the work is queued and done once.

The same-time case is made to collide for sure: the test holds the job table in SHARE ROW
EXCLUSIVE mode (reads go on, inserts wait) and lets go only once both firings' sessions are
waiting on a lock. Without a lock around "is one waiting? if not, create one", both have
found nothing waiting and both insert; with it, the second waits for the first's commit and
finds its job."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from adherence.services import build
from adherence.tasks import worklists_nightly
from clinical.models import RegistryMessage
from clinical.services import registry as outbox
from dashboards.services import rollups
from dashboards.tasks import rollups_nightly
from reconciliation.services import runs
from reconciliation.tasks import reconcile_nightly
from rxrevops.models import Job
from rxrevops.services.jobs import _LOCK_NAMESPACE
from rxrevops.services.tokens import api_token_create
from tests.clinical.test_immunizations import flu_dose
from tests.factories import LocationFactory, OrganizationFactory
from tests.faults.conftest import _connect, fetch_one, table_locked, wait_until
from tests.support.registry import LocalRegistry, local_registry, registry_create
from tests.webhooks.receiver import start_receiver
from webhooks.models import WebhookDelivery
from webhooks.services import (
    webhook_deliver,
    webhook_deliveries_due,
    webhook_endpoint_create,
)

pytestmark = [pytest.mark.integration]

__all__ = ["local_registry"]  # the fixture, used by name below

# beat task -> the job kind it queues one of per organization
NIGHTLY: dict[str, tuple[Callable[[], list[int]], str]] = {
    "reconciliation.tasks.reconcile_nightly": (reconcile_nightly, runs.JOB_KIND),
    "adherence.tasks.worklists_nightly": (worklists_nightly, build.JOB_KIND),
    "dashboards.tasks.rollups_nightly": (rollups_nightly, rollups.JOB_KIND),
}
# the other beat tasks, and why a second firing does no work twice
OTHERS = {
    # each delivery is claimed with a conditional UPDATE before it is posted (below)
    "webhooks.tasks.webhooks_send_due",
    # each outbox message is claimed with SELECT ... FOR UPDATE SKIP LOCKED (below)
    "clinical.tasks.registry_send_due",
    # a job sent twice is claimed with its advisory lock and a conditional UPDATE
    # (tests/test_jobs.py: two workers racing for one job run it once)
    "rxrevops.tasks.jobs_requeue_stalled",
    # deletes what has expired: the second finds nothing
    "rxrevops.tasks.idempotency_keys_purge",
    # writes a timestamp
    "rxrevops.tasks.beat_heartbeat",
}


@pytest.fixture
def two_orgs(transactional_db: Any) -> list[Any]:
    orgs = [OrganizationFactory.create(), OrganizationFactory.create()]
    for org in orgs:
        LocationFactory.create(organization=org)
    OrganizationFactory.create()  # no stores: nothing queued for it
    return orgs


@contextmanager
def no_worker_takes_new_jobs() -> Iterator[None]:
    """The next job ids' claims held by the test, so a worker that happens to be running
    (the session's test worker) leaves the jobs queued: "already waiting" stays true. On the
    way out, still holding the claims, the jobs are ended, so a task message the worker
    takes later finds nothing to run (it would otherwise run the job while the test's
    database is being flushed, and the two deadlock)."""
    with _connect() as conn:
        (last,) = fetch_one(conn, "SELECT last_value FROM rxrevops_job_id_seq")
        ids = range(last, last + 100)
        for pk in ids:
            conn.execute("SELECT pg_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, pk])
        try:
            yield
        finally:
            conn.execute(
                "UPDATE rxrevops_job SET status = 'failed', message = 'ended by the test' "
                "WHERE id >= %s AND id < %s AND status IN ('queued', 'running')",
                [ids.start, ids.stop],
            )


def waiting_on_locks(pids: list[int]) -> int:
    """How many of the sessions `pids` are waiting for a lock (a worker's session waiting on
    the test's lock is not counted)."""
    with _connect() as conn:
        (n,) = fetch_one(
            conn,
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s) "
            "AND wait_event_type = 'Lock'",
            [pids],
        )
    return int(n)


def session_pid() -> int:
    """This thread's database session (opened now if need be)."""
    connection.ensure_connection()
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        return int(cur.fetchone()[0])


def fire_at_once(task: Callable[[], list[int]]) -> list[list[int]]:
    """`task` run by two threads (two database sessions) that collide on the job table."""
    results: list[list[int]] = [[], []]
    errors: list[BaseException] = []
    pids: list[int] = []

    def fire(i: int) -> None:
        try:
            pids.append(session_pid())
            results[i] = task()
        except BaseException as e:  # reported by the test thread
            errors.append(e)
        finally:
            connection.close()

    with table_locked("rxrevops_job", "SHARE ROW EXCLUSIVE"):
        threads = [threading.Thread(target=fire, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        wait_until(lambda: waiting_on_locks(pids) == 2 or errors, timeout=30)
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return results


def test_every_beat_task_is_covered_here() -> None:
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled == set(NIGHTLY) | OTHERS


@pytest.mark.parametrize("name", sorted(NIGHTLY))
def test_beat_firing_a_nightly_task_twice_queues_one_job_per_organization(
    name: str, two_orgs: list[Any]
) -> None:
    task, kind = NIGHTLY[name]
    with no_worker_takes_new_jobs():
        first = task()
        second = task()
        assert first == second
        assert len(set(first)) == 2
        jobs = Job.objects.filter(kind=kind)
        assert sorted(jobs.values_list("organization_id", flat=True)) == sorted(
            o.pk for o in two_orgs
        )
        assert set(jobs.values_list("status", flat=True)) == {Job.Status.QUEUED}


@pytest.mark.parametrize("name", sorted(NIGHTLY))
def test_beat_firing_a_nightly_task_twice_at_the_same_time_queues_one_job_per_organization(
    name: str, two_orgs: list[Any]
) -> None:
    task, kind = NIGHTLY[name]
    with no_worker_takes_new_jobs():
        first, second = fire_at_once(task)
        assert first == second
        assert Job.objects.filter(kind=kind).count() == 2  # one per organization with stores
        assert sorted(Job.objects.filter(kind=kind).values_list("pk", flat=True)) == sorted(first)


def test_a_nightly_full_run_asked_while_an_incremental_one_waits_makes_it_full(
    two_orgs: list[Any],
) -> None:
    with no_worker_takes_new_jobs():
        waiting = runs.reconcile_request(organization=two_orgs[0])
        assert not waiting.params.get("full")
        (first, second) = fire_at_once(reconcile_nightly)
        assert first == second
        assert waiting.pk in first
        waiting.refresh_from_db()
        assert waiting.params.get("full") is True
        assert Job.objects.filter(kind="reconcile").count() == 2


def test_a_due_webhook_sent_by_two_firings_at_the_same_time_is_posted_once(
    chain: SimpleNamespace, transactional_db: Any
) -> None:
    """Both firings of webhooks_send_due find the delivery due and queue it; the two sends
    collide on its row (held by the test until both wait) and one of them posts."""
    receiver = start_receiver()
    try:
        token = api_token_create(
            organization=chain.org, name="PMS bridge", scopes=("jobs:read",)
        ).token
        endpoint = webhook_endpoint_create(
            token=token, url=receiver.url, events=["job.succeeded"], created_by=None
        )
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint,
            event="job.succeeded",
            source="job:1",
            payload={"type": "job.succeeded"},
            next_attempt_at=timezone.now(),
        )
        assert webhook_deliveries_due() == webhook_deliveries_due() == [delivery.pk]

        sent: list[Any] = []
        errors: list[BaseException] = []
        pids: list[int] = []

        def send() -> None:
            try:
                pids.append(session_pid())
                sent.append(webhook_deliver(delivery_id=delivery.pk))
            except BaseException as e:  # reported by the test thread
                errors.append(e)
            finally:
                connection.close()

        with _connect() as conn:
            conn.execute("BEGIN")
            conn.execute(
                "SELECT 1 FROM webhooks_webhookdelivery WHERE id = %s FOR UPDATE", [delivery.pk]
            )
            threads = [threading.Thread(target=send) for _ in range(2)]
            for t in threads:
                t.start()
            wait_until(lambda: waiting_on_locks(pids) == 2 or errors, timeout=30)
            conn.execute("ROLLBACK")
        for t in threads:
            t.join(timeout=60)
        assert not errors, errors
        assert sorted(d is None for d in sent) == [False, True]  # one sent, one found it held
        assert len(receiver.received) == 1
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == (WebhookDelivery.Status.DELIVERED, 1)
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def test_a_due_registry_message_sent_by_two_firings_at_the_same_time_is_sent_once(
    chain: SimpleNamespace,
    transactional_db: Any,
    local_registry: LocalRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both firings of registry_send_due find the message due and queue it; the two sends
    start together (a barrier) while the registry takes a second to answer. One claims the
    message and sends it; the other finds it held (skipped) or already being sent."""
    monkeypatch.setattr(outbox, "current_app", SimpleNamespace(send_task=lambda *a, **k: None))
    registry_create(organization=chain.org, url=local_registry.url)
    message = RegistryMessage.objects.get(immunization=flu_dose(chain.owner, chain.patient_a))
    now = timezone.now() + timedelta(seconds=1)
    assert outbox.registry_messages_send_due(now=now) == [message.pk]
    assert outbox.registry_messages_send_due(now=now) == [message.pk]  # the second firing
    local_registry.plan.delay = 1.0

    start = threading.Barrier(2)
    sent: list[Any] = []
    errors: list[BaseException] = []

    def send() -> None:
        try:
            connection.ensure_connection()
            start.wait(timeout=30)
            sent.append(outbox.registry_message_send(message_id=message.pk, now=now))
        except BaseException as e:  # reported by the test thread
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert sorted(m is None for m in sent) == [False, True]  # one sent, one had nothing to do
    assert [r.control_id for r in local_registry.received] == [message.control_id]
    message.refresh_from_db()
    assert (message.status, message.attempts) == (RegistryMessage.Status.ACCEPTED, 1)
