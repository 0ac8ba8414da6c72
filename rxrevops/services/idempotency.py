"""Idempotency keys: claim a key for a request, store its answer, purge old keys.

The claim is an INSERT on the (principal, key) unique constraint, committed at once, so of
two concurrent requests with one key exactly one runs; the other sees the row in progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from rxrevops.models import IdempotencyRecord

# answers that say the request never ran (refused, conflicting, throttled, too big) are not
# kept: the client's retry with the same key must be able to run
NOT_STORED = frozenset({401, 403, 409, 413, 415, 429})
# response headers worth replaying
REPLAYED_HEADERS = ("Content-Type", "Location", "Content-Disposition")
# a row still in progress after this long belongs to a request whose process died
ABANDONED_AFTER = timedelta(minutes=15)


@dataclass(frozen=True)
class Claim:
    """`record` is ours to run when `fresh`; else it is an earlier request's row."""

    record: IdempotencyRecord
    fresh: bool


def _ttl() -> timedelta:
    return timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)


def idempotency_claim(
    *, principal: str, key: str, method: str, path: str, request_hash: str
) -> Claim:
    """Take the key for this request, or return the row of the request that has it. An
    expired row (the purge task may not have run yet) or an abandoned one is replaced."""
    fields = {"method": method, "path": path, "request_hash": request_hash}
    for _ in range(2):
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(principal=principal, key=key, **fields)
            return Claim(record=record, fresh=True)
        except IntegrityError:
            pass
        existing = IdempotencyRecord.objects.filter(principal=principal, key=key).first()
        if existing is None:
            continue  # purged between the INSERT and the SELECT: try again
        limit = _ttl() if existing.status_code is not None else min(_ttl(), ABANDONED_AFTER)
        if existing.created_at >= timezone.now() - limit:
            return Claim(record=existing, fresh=False)
        IdempotencyRecord.objects.filter(pk=existing.pk, created_at=existing.created_at).delete()
    raise RuntimeError(f"could not claim idempotency key {key!r} for {principal}")


def idempotency_complete(
    *, record: IdempotencyRecord, status_code: int, headers: dict[str, str], body: bytes
) -> bool:
    """Store the answer, or give the key back when the answer is not to be replayed (a
    server error, or a refusal before the endpoint ran). Returns whether it was stored."""
    if status_code >= 500 or status_code in NOT_STORED:
        idempotency_release(record=record)
        return False
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        status_code=status_code,
        headers={k: v for k, v in headers.items() if k in REPLAYED_HEADERS},
        body=body,
        completed_at=timezone.now(),
    )
    return True


def idempotency_release(*, record: IdempotencyRecord) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk, status_code__isnull=True).delete()


def idempotency_purge_expired() -> int:
    """Delete keys older than IDEMPOTENCY_KEY_TTL_HOURS; returns how many."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - _ttl()).delete()
    return deleted
