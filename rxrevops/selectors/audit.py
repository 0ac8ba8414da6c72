from __future__ import annotations

from datetime import date
from typing import Any

from rxrevops.access import Principal, organization_ids_administered_by
from rxrevops.models import AuditEvent


def audit_list_for_user(
    user: Principal,
    *,
    action: str | None = None,
    actor: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> Any:
    """Audit events of the organizations the user administers, newest first."""
    qs = AuditEvent.objects.filter(
        organization__in=organization_ids_administered_by(user)
    ).select_related("location", "actor_user", "actor_token")
    if action:
        qs = qs.filter(action=action)
    if actor:
        qs = qs.filter(actor_label__icontains=actor)
    if since:
        qs = qs.filter(occurred_at__date__gte=since)
    if until:
        qs = qs.filter(occurred_at__date__lte=until)
    return qs
