"""Stored answers to POSTs sent with an `Idempotency-Key`, so a client's retry is answered
with the first response instead of doing the write twice."""

from __future__ import annotations

from django.db import models


class IdempotencyRecord(models.Model):
    """One key of one principal. `status_code` is null while the first request runs.

    `principal` is `token:<token prefix>` or `user:<user id>`: keys are per caller, so two
    integrations choosing the same key never see each other's answers.
    """

    principal = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=2000)
    # sha256 of method, path and body: the same key with another request is a conflict
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    body = models.BinaryField(default=b"", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["principal", "key"], name="idempotency_principal_key")
        ]
        indexes = [
            # the purge: DELETE ... WHERE created_at < now() - TTL
            models.Index(fields=["created_at"], name="idempotency_created_at"),
        ]

    def __str__(self) -> str:
        return f"{self.principal} {self.method} {self.path} [{self.key}]"
