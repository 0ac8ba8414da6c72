"""Immunization registry outbox (VXU messages sent to state registries): models.

`ImmunizationRegistry` is where an organization's stores in one state report their doses (a
state IIS such as Iowa IRIS). `RegistryMessage` is the outbox row for one dose sent to one
registry: the VXU as sent, what the registry answered, and where the sending stands.
"""

from __future__ import annotations

from typing import Any

from django.core.validators import URLValidator
from django.db import models

from rxrevops.querysets import ClinicalQuerySet, OrganizationScopedQuerySet

__all__ = ["ImmunizationRegistry", "RegistryMessage"]


class ImmunizationRegistry(models.Model):
    """A state immunization information system (IIS) and how to reach it.

    A registry serves the organization's stores in its state (stores report to the registry
    of the state they are in); at most one enabled registry per organization and state."""

    class ProcessingId(models.TextChoices):
        PRODUCTION = "P", "Production"
        TRAINING = "T", "Training / test"

    organization = models.ForeignKey(
        "rxrevops.Organization", on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField(max_length=100, help_text='e.g. "Iowa IRIS"')
    state = models.CharField(max_length=2, help_text="Two-letter state code of the stores served.")
    endpoint_url = models.CharField(
        "endpoint URL",
        max_length=500,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="The registry's HTTP(S) address that takes a VXU and answers an ACK.",
    )
    # MSH-4 and RXA-11.4: the id the registry assigned the pharmacy; blank sends each store's
    # NCPDP id until the registry assigns one
    sending_facility_id = models.CharField("sending facility ID", max_length=40, blank=True)
    receiving_application = models.CharField("receiving application (MSH-5)", max_length=40)
    receiving_facility = models.CharField("receiving facility (MSH-6)", max_length=40)
    processing_id = models.CharField(
        "processing ID (MSH-11)",
        max_length=1,
        choices=ProcessingId.choices,
        default=ProcessingId.PRODUCTION,
    )
    enabled = models.BooleanField(default=True)
    timeout_seconds = models.PositiveSmallIntegerField(default=30)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrganizationScopedQuerySet["ImmunizationRegistry"].as_manager()

    class Meta:
        ordering = ["organization", "state", "name"]
        verbose_name_plural = "immunization registries"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "state"],
                condition=models.Q(enabled=True),
                name="one_enabled_registry_per_state",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.state})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.state = self.state.strip().upper()  # "ia" and "IA" are one state
        super().save(*args, **kwargs)


class RegistryMessage(models.Model):
    """One dose's VXU to one registry: the outbox row.

    `er7` is the message as last built (a resend rebuilds it from the current dose with a new
    control id); `ack` is the registry's last answer and `last_error` what went wrong, in the
    registry's words or the transport's."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        ACCEPTED = "accepted", "Accepted"
        ACCEPTED_WITH_WARNINGS = "accepted_warnings", "Accepted with warnings"
        REJECTED = "rejected", "Rejected by the registry"
        RETRYING = "retrying", "Not delivered, will retry"
        FAILED = "failed", "Failed"

    organization = models.ForeignKey(
        "rxrevops.Organization", on_delete=models.CASCADE, related_name="+"
    )
    location = models.ForeignKey("rxrevops.Location", on_delete=models.PROTECT, related_name="+")
    immunization = models.ForeignKey(
        "clinical.Immunization", on_delete=models.CASCADE, related_name="registry_messages"
    )
    registry = models.ForeignKey(
        ImmunizationRegistry, on_delete=models.PROTECT, related_name="messages"
    )
    control_id = models.CharField("message control ID (MSH-10)", max_length=40, unique=True)
    er7 = models.TextField("VXU sent", blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    # when the outbox sends it next; while sending, when a stalled send may be taken over
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    ack = models.TextField("ACK received", blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    acked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ClinicalQuerySet["RegistryMessage"].as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # the beat task's "due" query: status in (...) and next_attempt_at <= now
            models.Index(fields=["status", "next_attempt_at"], name="registry_message_due"),
            # the outbox page: a store's messages by status, newest first
            models.Index(
                fields=["location", "status", "created_at"], name="registry_message_outbox"
            ),
        ]
        constraints = [
            # one message per dose per registry: enqueueing twice does nothing
            models.UniqueConstraint(
                fields=["immunization", "registry"], name="registry_message_once_per_dose"
            )
        ]

    def __str__(self) -> str:
        return f"VXU {self.control_id} ({self.status})"

    @property
    def status_tone(self) -> str:
        """The status badge's colour (the stylesheet's status-* classes)."""
        return _TONES[self.status]


_TONES: dict[str, str] = {
    RegistryMessage.Status.QUEUED: "queued",
    RegistryMessage.Status.SENDING: "running",
    RegistryMessage.Status.ACCEPTED: "succeeded",
    RegistryMessage.Status.ACCEPTED_WITH_WARNINGS: "succeeded",
    RegistryMessage.Status.REJECTED: "failed",
    RegistryMessage.Status.RETRYING: "queued",
    RegistryMessage.Status.FAILED: "failed",
}
