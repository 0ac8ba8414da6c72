"""Webhook endpoints (per API token) and the deliveries made to them."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models


class Event(models.TextChoices):
    JOB_SUCCEEDED = "job.succeeded", "An import or run finished"
    JOB_FAILED = "job.failed", "An import or run failed"
    EXCEPTIONS_FOUND = "exceptions.found", "A reconciliation run found exceptions"


class WebhookEndpoint(models.Model):
    """Where an integration wants to hear about events its token may see. The secret signs
    every delivery; it is shown once, when the endpoint is created."""

    token = models.ForeignKey(
        "rxrevops.ApiToken", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=500)
    events = ArrayField(models.CharField(max_length=32, choices=Event.choices))
    secret = models.CharField(max_length=64)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event for one endpoint, sent until the receiver answers 2xx or the attempts run
    out. `event_id` is the same on every attempt: receivers dedupe on it (at least once)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Gave up"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=32, choices=Event.choices)
    event_id = models.UUIDField(default=uuid.uuid4)
    # what caused it (a job), so a redelivered job message adds no second delivery
    source = models.CharField(max_length=60)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    # a sender holds the delivery until then (a crashed sender's hold runs out)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event", "source"], name="webhook_delivery_once"
            )
        ]
        indexes = [
            # the resend sweep: pending deliveries that are due
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due",
                condition=models.Q(status="pending"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} -> {self.endpoint_id} ({self.status})"


class ExceptionsSeen(models.Model):
    """The open exceptions a token could see after the last reconciliation run that looked
    for it (`{}`: none), and what the run before that saw: `exceptions.found` goes out when
    they differ, so exceptions that cleared and came back are news again."""

    token = models.OneToOneField(
        "rxrevops.ApiToken", on_delete=models.CASCADE, related_name="+", primary_key=True
    )
    source = models.CharField(max_length=60)  # the run ("job:<id>") that saw `exceptions`
    exceptions = models.JSONField(default=dict)
    before = models.JSONField(null=True, blank=True)  # None: no run looked before `source`
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"exceptions seen by token {self.token_id} at {self.source}"
