"""Webhook signatures (pure): HMAC-SHA256 over "<unix time>.<body>" with the endpoint's
secret, sent as `RxRevOps-Signature: t=<unix time>,v1=<hex digest>`.

The timestamp inside the signed text lets a receiver refuse replays older than a few
minutes; `v1` names the scheme so a second one can be added without breaking receivers.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "RxRevOps-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{int(timestamp)}.".encode() + body, hashlib.sha256)
    return f"t={int(timestamp)},v1={mac.hexdigest()}"


def verify(
    *,
    secret: str,
    header: str,
    body: bytes,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """What a receiver does: the header parses, is recent, and one v1 digest matches."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret=secret, timestamp=timestamp, body=body).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, given) for given in parts.get("v1", []))
