from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from rxrevops.access import location_list_for_user, primary_role_for_user
from rxrevops.models import Role
from rxrevops.web import nav_for_user


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    role = primary_role_for_user(user)
    return {
        "nav_items": nav_for_user(user),
        "primary_role": role,
        "primary_role_label": Role(role).label if role else "No role",
        "visible_locations": location_list_for_user(user),
    }
