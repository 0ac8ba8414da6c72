"""Writing the audit trail. Reading it is `rxrevops.selectors.audit`."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpRequest

from rxrevops.access import Principal, TokenPrincipal, home_organization_id_for_user
from rxrevops.models import AuditEvent, Location, Organization


def _client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy sets it.
    # Behind a reverse proxy this records the proxy's address (trusted-proxy handling is
    # still to come).
    return request.META.get("REMOTE_ADDR") or None


def audit_record(
    *,
    actor: Principal | None,
    action: str,
    obj: models.Model | None = None,
    organization: Organization | int | None = None,
    location: Location | int | None = None,
    summary: str = "",
    request: HttpRequest | None = None,
    actor_label: str = "",
) -> AuditEvent:
    """Append one audit event. `obj`'s location and organization are used when not given."""
    if obj is not None:
        if location is None:
            location = getattr(obj, "location_id", None)
        if organization is None:
            organization = getattr(obj, "organization_id", None)
    if organization is None and location is None and actor is not None:
        organization = home_organization_id_for_user(actor)
    if organization is None and location is not None:
        loc_id = location.pk if isinstance(location, Location) else location
        organization = Location.objects.values_list("organization_id", flat=True).get(pk=loc_id)
    fields: dict[str, Any] = {
        "action": action,
        "summary": summary[:300],
        "object_type": obj._meta.label if obj is not None else "",
        "object_id": str(obj.pk) if obj is not None else "",
        "path": request.get_full_path()[:300] if request is not None else "",
        "ip_address": _client_ip(request),
    }
    fields["organization_id"] = (
        organization.pk if isinstance(organization, Organization) else organization
    )
    fields["location_id"] = location.pk if isinstance(location, Location) else location
    if isinstance(actor, TokenPrincipal):
        fields["actor_token"] = actor.token
        fields["actor_label"] = str(actor)[:150]
    elif actor is not None and actor.is_authenticated:
        fields["actor_user"] = actor
        fields["actor_label"] = actor.get_username()[:150]
    if actor_label:
        fields["actor_label"] = actor_label[:150]
    return AuditEvent.objects.create(**fields)
