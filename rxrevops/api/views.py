from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from rxrevops.access import TokenPrincipal, location_list_for_user, roles_for_user
from rxrevops.api.permissions import ScopeOrRole
from rxrevops.api.serializers import JobSerializer, LocationSerializer, MeSerializer
from rxrevops.models import Role, Scope
from rxrevops.selectors.jobs import job_list_for_user

# the roles that run imports and reconciliation; job errors carry row values
JOB_ROLES = (Role.OWNER, Role.REVENUE, Role.PHARMACIST)


class MeView(APIView):
    """Who the caller is: a user with roles, or a token with scopes, and the locations it sees."""

    # any valid token or signed-in user may ask who it is, whatever its scopes
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        user = request.user
        token = user.token if isinstance(user, TokenPrincipal) else None
        data = {
            "kind": "token" if token else "user",
            "name": token.name if token else user.get_username(),
            "roles": sorted(roles_for_user(user)),
            "scopes": sorted(token.scopes) if token else [],
            "locations": list(location_list_for_user(user)),
        }
        return Response(MeSerializer(data).data)


class LocationList(generics.ListAPIView[Any]):
    serializer_class = LocationSerializer
    permission_classes = [ScopeOrRole]
    required_scope = Scope.CLAIMS_READ
    cursor_ordering = "pk"

    def get_queryset(self) -> Any:
        return location_list_for_user(self.request.user)


class LocationDetail(generics.RetrieveAPIView[Any]):
    serializer_class = LocationSerializer
    permission_classes = [ScopeOrRole]
    required_scope = Scope.CLAIMS_READ

    def get_queryset(self) -> Any:
        return location_list_for_user(self.request.user)


class JobList(generics.ListAPIView[Any]):
    """Import and run jobs the caller may see, newest first."""

    serializer_class = JobSerializer
    permission_classes = [ScopeOrRole]
    required_scope = Scope.JOBS_READ
    allowed_roles = JOB_ROLES
    cursor_ordering = "-pk"

    def get_queryset(self) -> Any:
        qs = job_list_for_user(self.request.user)
        status = self.request.query_params.get("status")
        return qs.filter(status=status) if status else qs


class JobDetail(generics.RetrieveAPIView[Any]):
    """One job's status, progress, counts and errors: poll it for a progress bar."""

    serializer_class = JobSerializer
    permission_classes = [ScopeOrRole]
    required_scope = Scope.JOBS_READ
    allowed_roles = JOB_ROLES

    def get_queryset(self) -> Any:
        return job_list_for_user(self.request.user)
