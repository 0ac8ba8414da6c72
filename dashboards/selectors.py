"""Read side of the owner dashboards."""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from rxrevops.access import Principal, location_list_for_user


def location_overview_for_user(user: Principal) -> Any:
    """Each visible location with the number of patients on file."""
    return location_list_for_user(user).annotate(patient_count=Count("patients")).order_by("name")
