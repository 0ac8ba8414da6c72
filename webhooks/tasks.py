"""Webhook tasks: send one delivery (and schedule its retry), resend what is due."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from webhooks import services
from webhooks.models import WebhookDelivery


@shared_task(acks_late=True)
def webhook_deliver(delivery_id: int) -> str:
    delivery = services.webhook_deliver(delivery_id=delivery_id)
    if delivery is None:
        return "not due"
    if delivery.status == WebhookDelivery.Status.PENDING:
        wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
        webhook_deliver.apply_async((delivery_id,), countdown=max(wait, 0))
    return delivery.status


@shared_task
def webhooks_send_due() -> int:
    due = services.webhook_deliveries_due()
    for pk in due:
        webhook_deliver.delay(pk)
    return len(due)
