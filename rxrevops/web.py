"""Helpers for HTML views: role guards and navigation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase

from rxrevops.access import Principal, roles_for_user
from rxrevops.models import Role

ALL_ROLES = tuple(Role.values)


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    roles: tuple[str, ...]


# One list decides what each role sees in the navigation and may open.
NAV: tuple[NavItem, ...] = (
    NavItem("Dashboards", "dashboards:index", (Role.OWNER,)),
    NavItem("Reconciliation", "reconciliation:index", (Role.OWNER, Role.REVENUE)),
    NavItem("Workbench", "reconciliation:workbench", (Role.OWNER, Role.REVENUE)),
    NavItem("Call lists", "adherence:index", (Role.OWNER, Role.TECHNICIAN, Role.PHARMACIST)),
    NavItem("Clinical", "clinical:index", (Role.OWNER, Role.PHARMACIST)),
    NavItem("Patients", "claims:patient_list", ALL_ROLES),
    NavItem("Claims", "claims_list:list", (Role.OWNER, Role.REVENUE, Role.PHARMACIST)),
    NavItem("Imports", "imports:list", (Role.OWNER, Role.REVENUE, Role.PHARMACIST)),
    NavItem("Jobs", "job_list", (Role.OWNER, Role.REVENUE)),
    NavItem("Audit log", "audit_list", (Role.OWNER,)),
    NavItem("API tokens", "token_list", (Role.OWNER,)),
)

# Where each role lands after signing in, most privileged role first.
ROLE_HOME = {
    Role.OWNER: "dashboards:index",
    Role.REVENUE: "reconciliation:index",
    Role.PHARMACIST: "clinical:index",
    Role.TECHNICIAN: "adherence:index",
}


def nav_for_user(user: Principal) -> list[NavItem]:
    roles = roles_for_user(user)
    return [item for item in NAV if roles & set(item.roles)]


def roles_for_url_name(url_name: str) -> tuple[str, ...]:
    return next(item.roles for item in NAV if item.url_name == url_name)


def role_required(
    *roles: str,
) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    """Signed-in users holding one of `roles` in some organization; others get 403.
    Which rows they see is still decided by the selectors."""

    def decorate(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @wraps(view)
        @login_required
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not roles_for_user(request.user) & set(roles):
                raise PermissionDenied("Your role does not include this page.")
            return view(request, *args, **kwargs)

        return guarded

    return decorate


def nav_required(
    url_name: str,
) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    """Guard a page with the roles its navigation entry names, so menu and access agree."""
    return role_required(*roles_for_url_name(url_name))
