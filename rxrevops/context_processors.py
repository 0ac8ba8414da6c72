from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from rxrevops.access import location_list_for_user, primary_role_for_user
from rxrevops.models import Role
from rxrevops.web import nav_for_user


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    if getattr(request, "second_factor_owed", None):
        # signed in with the password only: no way into the product until the code is given
        return {"signin_pending": True}
    role = primary_role_for_user(user)
    items = nav_for_user(user)
    urls = {item.url_name: reverse(item.url_name) for item in items}
    # the entry whose address is the longest prefix of this page's is the current one
    here = [name for name, url in urls.items() if request.path.startswith(url)]
    current = max(here, key=lambda name: len(urls[name]), default="")
    return {
        "nav_items": [(item, urls[item.url_name], item.url_name == current) for item in items],
        "primary_role": role,
        "primary_role_label": Role(role).label if role else "No role",
        "visible_locations": location_list_for_user(user),
    }
