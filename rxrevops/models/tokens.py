"""Integration API tokens: created by an owner, stored hashed, scoped, revocable."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from rxrevops.querysets import OrganizationScopedQuerySet


class Scope(models.TextChoices):
    CLAIMS_READ = "claims:read", "Read patients, fills and claims"
    CLAIMS_WRITE = "claims:write", "Push fills, claims and patients"
    REMITS_READ = "remits:read", "Read remittances and reconciliation results"
    REMITS_WRITE = "remits:write", "Upload 835 remittances and fee statements"
    WORKLISTS_READ = "worklists:read", "Read worklists and call lists"
    WORKLISTS_WRITE = "worklists:write", "Log calls on worklist items"
    CLINICAL_WRITE = "clinical:write", "Push immunizations and clinical services"
    METRICS_READ = "metrics:read", "Read margin and adherence metrics"
    JOBS_READ = "jobs:read", "Read import and run status"


class ApiTokenQuerySet(OrganizationScopedQuerySet["ApiToken"]):
    def usable(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """The key itself is shown once at creation; only its SHA-256 is kept.

    Keys look like `rxr_<prefix>_<secret>`: the prefix finds the row, the hash of the whole
    key proves it. A 256-bit random secret needs no slow hash.
    """

    organization = models.ForeignKey(
        "rxrevops.Organization", on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(
        max_length=100, help_text="What uses this token, e.g. 'PioneerRx push'."
    )
    prefix = models.CharField(max_length=12, unique=True)
    key_hash = models.CharField(max_length=64)
    locations = models.ManyToManyField(
        "rxrevops.Location",
        blank=True,
        related_name="api_tokens",
        help_text="Empty: every location of the organization.",
    )
    scopes = ArrayField(models.CharField(max_length=32, choices=Scope.choices), default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes
