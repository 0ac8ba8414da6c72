"""Outbound webhooks: what is sent, to whom, signed how, retried how, and the settings page."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from rxrevops.models import Job
from rxrevops.services.jobs import job_create, job_fail, job_succeed
from rxrevops.services.tokens import api_token_create
from tests.conftest import wait_until
from tests.webhooks.receiver import Receiver, start_receiver
from webhooks.models import ExceptionsSeen, WebhookDelivery, WebhookEndpoint
from webhooks.services import webhook_deliver, webhook_endpoint_create
from webhooks.signing import verify


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = start_receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def _endpoint(
    chain: SimpleNamespace,
    receiver: Receiver,
    events: list[str],
    *,
    scopes: tuple[str, ...] = ("jobs:read", "remits:read"),
    locations: tuple[Any, ...] = (),
) -> WebhookEndpoint:
    token = api_token_create(
        organization=chain.org, name="PMS bridge", scopes=scopes, locations=locations
    ).token
    return webhook_endpoint_create(token=token, url=receiver.url, events=events, created_by=None)


def _finished_job(chain: SimpleNamespace, capture: Any, *, location: Any = None) -> Job:
    job = Job.objects.create(
        organization=chain.org,
        location=location or chain.loc_a,
        kind="pms",
        label="pms-export.csv",
        status=Job.Status.RUNNING,
        attempts=1,
    )
    with capture(execute=True):
        job_succeed(job=job, counts={"inserted": 3, "updated": 1})
    return job


@pytest.mark.django_db
def test_a_finished_import_reaches_the_tokens_endpoint_signed(
    chain: SimpleNamespace, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint = _endpoint(chain, receiver, ["job.succeeded"])
    job = _finished_job(chain, django_capture_on_commit_callbacks)

    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    sent = webhook_deliver(delivery_id=delivery.pk)

    assert sent is not None
    assert (sent.status, sent.attempts, sent.last_status_code) == ("delivered", 1, 200)
    [got] = receiver.received
    assert got.path == "/hooks/rxrevops"
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["RxRevOps-Event"] == "job.succeeded"
    assert got.headers["RxRevOps-Delivery"] == str(delivery.event_id)
    assert verify(
        secret=endpoint.secret,
        header=got.headers["RxRevOps-Signature"],
        body=got.body,
        now=int(time.time()),
    )
    body = json.loads(got.body)
    assert body["id"] == str(delivery.event_id)
    assert body["type"] == "job.succeeded"
    assert body["data"]["job"]["id"] == job.pk
    assert body["data"]["job"]["location"] == chain.loc_a.ncpdp_id
    assert body["data"]["job"]["counts"] == {"inserted": 3, "updated": 1}
    assert body["data"]["job"]["url"] == f"/api/v1/jobs/{job.pk}/"
    assert "errors" not in body["data"]["job"]  # row values stay behind the audited API


@pytest.mark.django_db
def test_only_tokens_that_may_see_the_job_and_listen_to_the_event_get_a_delivery(
    chain: SimpleNamespace, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    wide = _endpoint(chain, receiver, ["job.succeeded"])
    store_a = _endpoint(chain, receiver, ["job.succeeded"], locations=(chain.loc_a,))
    store_b = _endpoint(chain, receiver, ["job.succeeded"], locations=(chain.loc_b,))
    failures_only = _endpoint(chain, receiver, ["job.failed"])
    revoked = _endpoint(chain, receiver, ["job.succeeded"])
    revoked.token.revoked_at = timezone.now()
    revoked.token.save()

    _finished_job(chain, django_capture_on_commit_callbacks, location=chain.loc_a)

    assert set(WebhookDelivery.objects.values_list("endpoint_id", flat=True)) == {
        wide.pk,
        store_a.pk,
    }
    assert not WebhookDelivery.objects.filter(endpoint__in=[store_b, failures_only, revoked])


@pytest.mark.django_db
def test_an_event_needs_the_scope_that_reads_what_it_is_about(
    chain: SimpleNamespace, receiver: Receiver
) -> None:
    with pytest.raises(ValidationError, match="jobs:read"):
        _endpoint(chain, receiver, ["job.succeeded"], scopes=("claims:write",))
    with pytest.raises(ValidationError, match="Pick one or more"):
        _endpoint(chain, receiver, ["job.deleted"])


@pytest.mark.django_db
def test_a_redelivered_job_message_adds_no_second_delivery(
    chain: SimpleNamespace, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    _endpoint(chain, receiver, ["job.succeeded"])
    job = _finished_job(chain, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        job_succeed(job=job, counts={})  # the worker died after the commit; it runs again
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.django_db
def test_a_failed_job_sends_job_failed_with_its_message(
    chain: SimpleNamespace, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    _endpoint(chain, receiver, ["job.failed"])
    job = Job.objects.create(
        organization=chain.org, location=chain.loc_a, kind="pms", status=Job.Status.RUNNING
    )
    with django_capture_on_commit_callbacks(execute=True):
        job_fail(job=job, message="The file has no header row.")
    delivery = WebhookDelivery.objects.get()
    assert webhook_deliver(delivery_id=delivery.pk).status == "delivered"  # type: ignore[union-attr]
    body = json.loads(receiver.received[0].body)
    assert body["type"] == "job.failed"
    assert body["data"]["job"]["message"] == "The file has no header row."


@pytest.mark.django_db
def test_a_refused_delivery_waits_longer_each_time_then_arrives_with_the_same_id(
    chain: SimpleNamespace, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    _endpoint(chain, receiver, ["job.succeeded"])
    _finished_job(chain, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    receiver.answers.extend([500, 503])

    before = timezone.now()
    first = webhook_deliver(delivery_id=delivery.pk)
    assert first is not None
    assert (first.status, first.attempts, first.last_status_code) == ("pending", 1, 500)
    assert first.last_error == "HTTP 500"
    assert before + timedelta(seconds=29) < first.next_attempt_at < before + timedelta(seconds=40)
    assert webhook_deliver(delivery_id=delivery.pk) is None  # not due yet: nothing sent
    assert len(receiver.received) == 1

    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    second = webhook_deliver(delivery_id=delivery.pk)
    assert second is not None
    assert (second.status, second.attempts, second.last_status_code) == ("pending", 2, 503)
    assert second.next_attempt_at - timezone.now() > timedelta(seconds=50)  # 1 minute

    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    third = webhook_deliver(delivery_id=delivery.pk)
    assert third is not None
    assert (third.status, third.attempts) == ("delivered", 3)
    ids = {r.headers["RxRevOps-Delivery"] for r in receiver.received}
    assert ids == {str(delivery.event_id)}


@pytest.mark.django_db
@override_settings(WEBHOOK_MAX_ATTEMPTS=2)
def test_a_delivery_is_given_up_after_the_last_attempt(
    chain: SimpleNamespace, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    _endpoint(chain, receiver, ["job.succeeded"])
    _finished_job(chain, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    receiver.answers.extend([500, 500, 200])
    webhook_deliver(delivery_id=delivery.pk)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    last = webhook_deliver(delivery_id=delivery.pk)
    assert last is not None
    assert (last.status, last.attempts) == ("failed", 2)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert webhook_deliver(delivery_id=delivery.pk) is None
    assert len(receiver.received) == 2


@pytest.mark.django_db
def test_a_private_address_is_refused_unless_allowed(
    chain: SimpleNamespace, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint = _endpoint(chain, receiver, ["job.succeeded"])  # tests allow loopback
    with override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=False):
        with pytest.raises(ValidationError, match="private or local address"):
            webhook_endpoint_create(
                token=endpoint.token,
                url="http://10.0.0.8/hook",
                events=["job.succeeded"],
                created_by=None,
            )
        with pytest.raises(ValidationError, match="http:// or https://"):
            webhook_endpoint_create(
                token=endpoint.token, url="file:///etc/passwd", events=["job.succeeded"],
                created_by=None,
            )  # fmt: skip
        _finished_job(chain, django_capture_on_commit_callbacks)
        sent = webhook_deliver(delivery_id=WebhookDelivery.objects.get().pk)
    assert sent is not None
    assert sent.status == "pending"
    assert "127.0.0.1 is a private or local address" in sent.last_error
    assert receiver.received == []


@pytest.mark.django_db
def test_a_reconciliation_run_with_exceptions_tells_each_token_what_it_may_see(
    chain: SimpleNamespace, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    from reconciliation.services.runs import reconcile_now
    from tests.reconciliation.test_workbench import AS_OF, book

    wide = _endpoint(chain, receiver, ["exceptions.found"])
    store_b = _endpoint(chain, receiver, ["exceptions.found"], locations=(chain.loc_b,))
    # a second endpoint of the same token hears the same news
    wide_too = webhook_endpoint_create(
        token=wide.token, url=receiver.url, events=["exceptions.found"], created_by=None
    )
    with django_capture_on_commit_callbacks(execute=True):
        run = book(chain).run

    by_endpoint = {d.endpoint_id: d.payload for d in WebhookDelivery.objects.all()}
    assert set(by_endpoint) == {wide.pk, wide_too.pk, store_b.pk}
    assert by_endpoint[wide_too.pk]["data"] == by_endpoint[wide.pk]["data"]
    chain_wide = by_endpoint[wide.pk]["data"]
    assert chain_wide["run"]["id"] == run.pk
    assert chain_wide["exceptions"]["short_paid"] == {"count": 2, "at_stake_cents": 2700}
    store = by_endpoint[store_b.pk]["data"]
    assert store["exceptions"]["short_paid"] == {"count": 1, "at_stake_cents": 2000}  # B's only
    assert "run" not in store  # an organization-wide run a store's token cannot read

    # the next run finds the same exceptions: nobody is told again
    with django_capture_on_commit_callbacks(execute=True):
        again = reconcile_now(organization=chain.org, as_of=AS_OF, full=True)
    assert again.status == "succeeded"
    assert WebhookDelivery.objects.count() == 3
    # no record of what the run before saw (a token told before the record was kept): what
    # its deliveries last said counts, and a difference is news
    ExceptionsSeen.objects.filter(token=store_b.token).delete()
    told = WebhookDelivery.objects.get(endpoint=store_b)
    told.payload["data"]["exceptions"]["short_paid"]["count"] = 7
    told.save(update_fields=["payload"])
    with django_capture_on_commit_callbacks(execute=True):
        reconcile_now(organization=chain.org, as_of=AS_OF, full=True)
    news = WebhookDelivery.objects.exclude(pk__in=[told.pk]).filter(endpoint=store_b).get()
    assert news.payload["data"]["exceptions"] == store["exceptions"]
    assert WebhookDelivery.objects.filter(endpoint=wide).count() == 1


@pytest.mark.django_db
def test_exceptions_that_cleared_and_came_back_are_news_again(
    chain: SimpleNamespace,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from reconciliation.result_selectors import EXCEPTION_KINDS, KindTotal
    from reconciliation.services.runs import JOB_KIND
    from webhooks import signals

    endpoint = _endpoint(chain, receiver, ["exceptions.found"])
    open_now: dict[str, tuple[int, int]] = {}
    monkeypatch.setattr(
        signals,
        "exception_summary_for_user",
        lambda principal: [KindTotal(k, k, *open_now.get(k, (0, 0))) for k in EXCEPTION_KINDS],
    )

    def run() -> list[dict[str, Any]]:
        """A reconciliation run finishing; what it sent."""
        job = Job.objects.create(
            organization=chain.org, kind=JOB_KIND, status=Job.Status.RUNNING, attempts=1
        )
        with django_capture_on_commit_callbacks(execute=True):
            job_succeed(job=job, counts={})
        sent = WebhookDelivery.objects.filter(endpoint=endpoint, source=f"job:{job.pk}")
        return [d.payload["data"]["exceptions"]["short_paid"] for d in sent]

    open_now["short_paid"] = (2, 2700)
    assert run() == [{"count": 2, "at_stake_cents": 2700}]
    assert run() == []  # the same: not news
    open_now.clear()
    assert run() == []  # all cleared: nothing to find
    open_now["short_paid"] = (2, 2700)
    assert run() == [{"count": 2, "at_stake_cents": 2700}]  # back: news again
    open_now["short_paid"] = (3, 3500)
    assert run() == [{"count": 3, "at_stake_cents": 3500}]


def test_the_owner_adds_a_webhook_sees_its_secret_once_and_removes_it(
    chain: SimpleNamespace, login: Any, other_chain: SimpleNamespace
) -> None:
    token = api_token_create(organization=chain.org, name="PMS bridge", scopes=["jobs:read"]).token
    page = f"/settings/tokens/{token.pk}/webhooks/"
    owner = login(chain.owner)

    answer = owner.post(page, {"url": "https://pms.example.com/hooks", "events": ["job.succeeded"]})
    assert answer.status_code == 200
    endpoint = WebhookEndpoint.objects.get(token=token)
    assert endpoint.secret in answer.content.decode()
    again = owner.get(page).content.decode()
    assert "https://pms.example.com/hooks" in again
    assert endpoint.secret not in again

    refused = owner.post(
        page, {"url": "https://pms.example.com/hooks", "events": ["job.failed", "exceptions.found"]}
    )
    assert refused.status_code == 400
    assert "remits:read" in refused.content.decode()

    assert login(other_chain.owner).get(page).status_code == 404
    assert login(chain.technician_a).get(page).status_code == 403
    delete = f"/settings/tokens/webhooks/{endpoint.pk}/delete/"
    assert login(other_chain.owner).post(delete).status_code == 404
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert owner.post(delete).status_code == 302
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


@pytest.mark.integration
def test_the_worker_delivers_the_event_of_a_job_it_ran(
    chain: SimpleNamespace, transactional_db: Any, celery_worker: Any, receiver: Receiver
) -> None:
    endpoint = _endpoint(chain, receiver, ["job.succeeded"])
    with transaction.atomic():
        job = job_create(
            organization=chain.org, location=chain.loc_a, kind="test.count", params={"n": 2}
        )
    got = wait_until(lambda: receiver.received[0] if receiver.received else None)
    body = json.loads(got.body)
    assert (body["type"], body["data"]["job"]["id"]) == ("job.succeeded", job.pk)
    assert verify(
        secret=endpoint.secret,
        header=got.headers["RxRevOps-Signature"],
        body=got.body,
        now=int(time.time()),
    )
    delivered = wait_until(
        lambda: WebhookDelivery.objects.filter(endpoint=endpoint, status="delivered").first()
    )
    assert delivered.attempts == 1


@pytest.mark.django_db
def test_a_named_host_is_resolved_once_and_a_redirect_is_an_answer_not_followed(
    chain: SimpleNamespace, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    port = receiver.server.server_address[1]
    endpoint = _endpoint(chain, receiver, ["job.succeeded"])
    endpoint.url = f"http://localhost:{port}/hooks/named"
    endpoint.save()
    _finished_job(chain, django_capture_on_commit_callbacks)
    receiver.answers.append(302)

    sent = webhook_deliver(delivery_id=WebhookDelivery.objects.get().pk)

    assert sent is not None
    assert (sent.status, sent.last_status_code, sent.last_error) == ("pending", 302, "HTTP 302")
    [got] = receiver.received  # one request: the redirect was not followed
    assert got.path == "/hooks/named"
    assert got.headers["Host"] == f"localhost:{port}"  # the name, though sent to its address
