"""Inbound interface messages, kept as received with what became of them."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from rxrevops.querysets import OrganizationScopedQuerySet


class Hl7Message(models.Model):
    """One HL7 v2 message as it arrived (HTTP or MLLP), its acknowledgment and what it wrote.

    The same message sent again (same organization, sending facility, MSH-10 and text) is
    answered with the stored ACK and writes nothing: `times_received` counts the resends.
    A message that failed for an internal reason is `retryable` and not a duplicate of
    anything, so a resend is processed again."""

    class Transport(models.TextChoices):
        HTTP = "http", "HTTP"
        MLLP = "mllp", "MLLP"

    class Outcome(models.TextChoices):
        ACCEPTED = "AA", "Accepted"
        ERROR = "AE", "Accepted with errors"
        REJECTED = "AR", "Rejected"

    organization = models.ForeignKey(
        "rxrevops.Organization", on_delete=models.CASCADE, related_name="+"
    )
    location = models.ForeignKey(
        "rxrevops.Location", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    transport = models.CharField(max_length=4, choices=Transport.choices)
    message_type = models.CharField(max_length=20, blank=True)  # "RDS^O13"
    control_id = models.CharField("control id (MSH-10)", max_length=200, blank=True)
    sending_facility = models.CharField("sending facility (MSH-4)", max_length=200, blank=True)
    raw = models.TextField()
    raw_sha256 = models.CharField(max_length=64)
    received_at = models.DateTimeField(default=timezone.now)
    last_received_at = models.DateTimeField(default=timezone.now)
    times_received = models.PositiveIntegerField(default=1)
    outcome = models.CharField(max_length=2, choices=Outcome.choices, blank=True)
    ack = models.TextField(blank=True)
    errors = models.JSONField(default=list, blank=True)  # [{location, sequence, code, ...}]
    linked = models.JSONField(default=dict, blank=True)  # {"fills": [ids], "job": id, ...}
    retryable = models.BooleanField(default=False)

    objects = OrganizationScopedQuerySet["Hl7Message"].as_manager()

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [
            # the duplicate check (and the race between two connections sending one message)
            models.UniqueConstraint(
                fields=["organization", "sending_facility", "control_id", "raw_sha256"],
                condition=models.Q(retryable=False),
                name="hl7_message_once",
            )
        ]
        indexes = [
            # the admin's and support's list: an organization's messages, newest first
            models.Index(fields=["organization", "-received_at"], name="hl7_message_org_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.message_type or 'HL7'} {self.control_id} ({self.outcome})"
