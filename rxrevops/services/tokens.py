"""Creating, checking and revoking integration API tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from rxrevops.models import ApiToken, AuditEvent, Location, Organization, Scope
from rxrevops.services.audit import audit_record

KEY_PREFIX = "rxr"
# last_used_at is written at most this often per token, so API traffic does not turn every
# read into a write
LAST_USED_RESOLUTION_SECONDS = 60


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    key: str  # shown once, never stored


@transaction.atomic
def api_token_create(
    *,
    organization: Organization,
    name: str,
    scopes: Iterable[str],
    locations: Iterable[Location] = (),
    created_by: User | None = None,
    actor_label: str = "",
) -> IssuedToken:
    """Issue a token. Locations must belong to the organization; scopes must be known."""
    scopes = sorted(set(scopes))
    unknown = [s for s in scopes if s not in Scope.values]
    if unknown:
        raise ValidationError(
            f"Unknown scope(s): {', '.join(unknown)}. Known: {', '.join(Scope.values)}"
        )
    if not scopes:
        raise ValidationError("A token needs at least one scope.")
    locations = list(locations)
    foreign = [loc for loc in locations if loc.organization_id != organization.pk]
    if foreign:
        raise ValidationError(
            f"Location(s) {', '.join(loc.ncpdp_id for loc in foreign)} are not in {organization}."
        )
    if not name.strip():
        raise ValidationError("Give the token a name that says what uses it.")
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        organization=organization,
        name=name.strip(),
        prefix=prefix,
        key_hash=_hash(key),
        scopes=scopes,
        created_by=created_by,
    )
    token.locations.set(locations)
    audit_record(
        actor=created_by,
        actor_label=actor_label,
        action=AuditEvent.Action.TOKEN_CREATE,
        obj=token,
        organization=organization,
        summary=f"{token.name}: scopes {', '.join(scopes)}; "
        + (
            f"locations {', '.join(loc.ncpdp_id for loc in locations)}"
            if locations
            else "all locations"
        ),
    )
    return IssuedToken(token=token, key=key)


def api_token_authenticate(*, key: str) -> ApiToken | None:
    """The usable token this key proves, or None. Constant-time comparison of the hash."""
    parts = key.split("_")
    if len(parts) < 3 or parts[0] != KEY_PREFIX:
        return None
    token = ApiToken.objects.usable().select_related("organization").filter(prefix=parts[1]).first()
    if token is None or not hmac.compare_digest(token.key_hash, _hash(key)):
        return None
    now = timezone.now()
    if (
        token.last_used_at is None
        or (now - token.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS
    ):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def api_token_revoke(*, token: ApiToken, revoked_by: User | None) -> ApiToken:
    """Revoke now. Revoking twice keeps the first revocation time."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            actor=revoked_by,
            action=AuditEvent.Action.TOKEN_REVOKE,
            obj=token,
            organization=token.organization_id,
            summary=token.name,
        )
    return token
