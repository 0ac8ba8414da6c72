"""Webhook writes: endpoints created and removed, events turned into deliveries, deliveries
sent (signed, retried with backoff until the receiver answers 2xx)."""

from __future__ import annotations

import http.client
import ipaddress
import json
import secrets
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from rxrevops.models import ApiToken
from webhooks.models import Event, WebhookDelivery, WebhookEndpoint
from webhooks.signing import SIGNATURE_HEADER, signature

# the scope a token needs to hear each event (the same it needs to read what it is about)
EVENT_SCOPES = {
    Event.JOB_SUCCEEDED: "jobs:read",
    Event.JOB_FAILED: "jobs:read",
    Event.EXCEPTIONS_FOUND: "remits:read",
}


class TargetRefused(Exception):
    """The URL points somewhere a webhook may not go (scheme, or a private address)."""


def webhook_endpoint_create(
    *, token: ApiToken, url: str, events: Iterable[str], created_by: User | None
) -> WebhookEndpoint:
    """A new endpoint with a fresh signing secret (the caller shows it once)."""
    chosen = sorted(set(events))
    unknown = [e for e in chosen if e not in Event.values]
    if not chosen or unknown:
        raise ValidationError({"events": f"Pick one or more of {', '.join(Event.values)}."})
    missing = sorted({EVENT_SCOPES[Event(e)] for e in chosen} - set(token.scopes))
    if missing:
        raise ValidationError(
            {"events": f"The token lacks the scope these events need: {', '.join(missing)}."}
        )
    try:
        check_target(url, resolve=False)
    except TargetRefused as exc:
        raise ValidationError({"url": str(exc)}) from None
    return WebhookEndpoint.objects.create(
        token=token,
        url=url,
        events=chosen,
        secret="whsec_" + secrets.token_hex(24),
        created_by=created_by,
    )


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


def webhook_emit(
    *,
    organization_id: int,
    event: Event,
    source: str,
    payload_for: Callable[[ApiToken], Mapping[str, Any] | None],
) -> list[int]:
    """One delivery per active endpoint of the organization's usable tokens that listens to
    `event` and whose token has the event's scope; `payload_for(token)` shapes what that
    token may see (None: nothing for it). The same `source` twice adds nothing. Sending
    starts once the caller's transaction commits. Returns the new deliveries' ids."""
    endpoints = (
        WebhookEndpoint.objects.filter(
            is_active=True,
            events__contains=[event.value],
            token__organization_id=organization_id,
            token__revoked_at__isnull=True,
            token__scopes__contains=[EVENT_SCOPES[event]],
        )
        .select_related("token")
        .order_by("pk")
    )
    now = timezone.now()
    created: list[int] = []
    for endpoint in endpoints:
        data = payload_for(endpoint.token)
        if data is None:
            continue
        event_id = uuid.uuid4()
        delivery, new = WebhookDelivery.objects.get_or_create(
            endpoint=endpoint,
            event=event.value,
            source=source,
            defaults={
                "event_id": event_id,
                "next_attempt_at": now,
                "payload": {
                    "id": str(event_id),
                    "type": event.value,
                    "created": now.isoformat(),
                    "data": json.loads(json.dumps(data, cls=DjangoJSONEncoder)),
                },
            },
        )
        if new:
            created.append(delivery.pk)
    if created:
        from webhooks.tasks import webhook_deliver

        transaction.on_commit(lambda: [webhook_deliver.delay(pk) for pk in created])
    return created


def check_target(url: str, *, resolve: bool = True) -> str | None:
    """http(s) only; and, unless WEBHOOK_ALLOW_PRIVATE_TARGETS, no loopback, private,
    link-local or reserved address (a webhook must not reach into the server's network).
    Returns the address to connect to (resolved once: the request goes to the address that
    was checked, so a name answering another address a moment later cannot move it), or
    None when `resolve` is off and the host is a name."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused("Use an http:// or https:// URL with a host name.")
    host = parts.hostname
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is None and not resolve:
        return None
    addresses = (
        [literal]
        if literal is not None
        else [
            ipaddress.ip_address(info[4][0])
            for info in socket.getaddrinfo(
                host, parts.port or _PORTS[parts.scheme], proto=socket.IPPROTO_TCP
            )
        ]
    )
    if not settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        for address in addresses:
            if not address.is_global:
                raise TargetRefused(f"{host} is a private or local address ({address}).")
    return str(addresses[0])


_PORTS = {"http": 80, "https": 443}


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to `address`, whatever the host name resolves to now."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to `address`, the certificate checked against the host name (SNI too)."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _post(url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int | None, str]:
    """(HTTP status or None, error text). One request, to the checked address; a redirect
    is an answer (3xx), never followed: it could point anywhere."""
    try:
        address = check_target(url) or ""  # (resolved: always an address)
        parts = urlsplit(url)
        pinned = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
        conn = pinned(
            parts.hostname or "",
            parts.port or _PORTS[parts.scheme],
            address=address,
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
        )
        try:
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            conn.request("POST", path, body=body, headers=dict(headers))
            response = conn.getresponse()
            response.read(1024)
            status = int(response.status)
        finally:
            conn.close()
    except TargetRefused as exc:
        return None, str(exc)
    except (OSError, ValueError, http.client.HTTPException) as exc:  # refused, reset, DNS
        return None, f"{type(exc).__name__}: {exc}"[:300]
    return status, "" if 200 <= status < 300 else f"HTTP {status}"


def retry_delay(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... doubling, at most 6 hours."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 6 * 3600))


def webhook_deliver(*, delivery_id: int) -> WebhookDelivery | None:
    """Send one due delivery once. Claimed with a conditional UPDATE (a hold that runs out
    if this sender dies), so two senders never post the same attempt. Returns the delivery
    as it stands after the attempt; None when it was not due or someone else holds it."""
    now = timezone.now()
    hold = timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + 30)
    claimed = (
        WebhookDelivery.objects.filter(
            pk=delivery_id,
            status=WebhookDelivery.Status.PENDING,
            next_attempt_at__lte=now,
        )
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(locked_until=now + hold)
    )
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "RxRevOps-Webhooks/1",
        "RxRevOps-Event": delivery.event,
        "RxRevOps-Delivery": str(delivery.event_id),
        SIGNATURE_HEADER: signature(
            secret=delivery.endpoint.secret, timestamp=int(time.time()), body=body
        ),
    }
    status, error = _post(delivery.endpoint.url, body, headers)
    delivery.attempts += 1
    delivery.last_status_code = status
    delivery.locked_until = None
    finished = timezone.now()
    if status is not None and 200 <= status < 300:
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = finished
        delivery.last_error = ""
    else:
        delivery.last_error = error or f"HTTP {status}"
        if delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            delivery.status = WebhookDelivery.Status.FAILED
        else:
            delivery.next_attempt_at = finished + retry_delay(delivery.attempts)
    delivery.save(
        update_fields=[
            "attempts", "last_status_code", "locked_until", "status", "delivered_at",
            "last_error", "next_attempt_at",
        ]
    )  # fmt: skip
    return delivery


def webhook_deliveries_due(*, limit: int = 500) -> list[int]:
    """Pending deliveries whose time has come and that no sender holds (the sweep resends
    what a lost task message or a restarted worker left behind)."""
    now = timezone.now()
    return list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now
        )
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
