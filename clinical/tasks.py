"""Clinical tasks: the immunization registry outbox (one-liners over
`clinical.services.registry`)."""

from __future__ import annotations

from celery import shared_task

from clinical.services import registry


@shared_task(acks_late=True)
def registry_send(message_id: int) -> None:
    """Send one outbox message; a second run finds nothing to claim and does nothing."""
    registry.registry_message_send(message_id=message_id)


@shared_task
def registry_send_due() -> list[int]:
    """Beat, every minute: queue the messages whose next attempt is due."""
    return registry.registry_messages_send_due()
