from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from rxrevops.access import TokenPrincipal, roles_for_user


class ScopeOrRole(BasePermission):
    """API tokens need the view's `required_scope`; signed-in users need one of its
    `allowed_roles` (any role when the view sets none). Row visibility is the queryset's job."""

    message = "Your token or role does not allow this."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        if isinstance(user, TokenPrincipal):
            scope = getattr(view, "required_scope", None)
            if isinstance(scope, dict):
                scope = scope.get(request.method or "GET")
            if isinstance(scope, (list, tuple)):  # any one of them (the view checks further)
                return any(user.token.has_scope(s) for s in scope)
            return scope is not None and user.token.has_scope(scope)
        roles = roles_for_user(user)
        allowed = getattr(view, "allowed_roles", None)
        return bool(roles) and (allowed is None or bool(roles & set(allowed)))
