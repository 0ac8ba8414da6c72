"""Background jobs (imports, reconciliation runs, worklist builds) and their progress."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from rxrevops.querysets import OrganizationOrLocationScopedQuerySet


class Job(models.Model):
    """A run row: what pages and the API read for status, progress bars, counts and errors.

    A job is claimed atomically by the task that runs it (see `rxrevops.services.jobs`), so a
    redelivered message after a worker crash resumes the same row instead of starting another.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Done"
        FAILED = "failed", "Failed"

    FINISHED = (Status.SUCCEEDED, Status.FAILED)

    organization = models.ForeignKey(
        "rxrevops.Organization", on_delete=models.CASCADE, related_name="jobs"
    )
    location = models.ForeignKey(
        "rxrevops.Location", null=True, blank=True, on_delete=models.CASCADE, related_name="jobs"
    )
    kind = models.CharField(max_length=40)
    label = models.CharField(max_length=200, blank=True)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress_done = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)
    error_count = models.IntegerField(default=0)
    message = models.TextField(blank=True)
    attempts = models.IntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = OrganizationOrLocationScopedQuerySet["Job"].as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            # jobs_requeue_stalled: unfinished jobs by age
            models.Index(fields=["status", "heartbeat_at"], name="job_status_heartbeat"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def percent(self) -> int | None:
        if not self.progress_total:
            return 100 if self.status == self.Status.SUCCEEDED else None
        return min(100, int(self.progress_done * 100 / self.progress_total))
