from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from claims.models import Patient
from claims.selectors import patient_get_for_user, patient_list_for_user
from rxrevops.api.permissions import ScopeOrRole
from rxrevops.models import AuditEvent, Role, Scope
from rxrevops.services.audit import audit_record

PATIENT_ROLES = [Role.OWNER, Role.PHARMACIST, Role.TECHNICIAN, Role.REVENUE]


class PatientSerializer(serializers.ModelSerializer[Patient]):
    location = serializers.CharField(source="location.ncpdp_id", read_only=True)

    class Meta:
        model = Patient
        fields = [
            "id",
            "location",
            "pms_patient_id",
            "first_name",
            "last_name",
            "date_of_birth",
            "phone",
            "updated_at",
        ]


class PatientList(generics.ListAPIView[Any]):
    """Patients of the locations the caller may see. Every call is written to the audit log."""

    serializer_class = PatientSerializer
    permission_classes = [ScopeOrRole]
    required_scope = Scope.CLAIMS_READ
    allowed_roles = PATIENT_ROLES
    cursor_ordering = "pk"

    def get_queryset(self) -> Any:
        qs = patient_list_for_user(self.request.user, search=self.request.query_params.get("q", ""))
        location = self.request.query_params.get("location")
        return qs.filter(location__ncpdp_id=location) if location else qs

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="name or PMS patient id"),
            OpenApiParameter("location", str, description="NCPDP ID of one location"),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        audit_record(
            actor=request.user,
            action=AuditEvent.Action.VIEW,
            summary=f"API patient list ({len(response.data['results'])} rows)",
            request=request,
        )
        return response


class PatientDetail(generics.RetrieveAPIView[Any]):
    serializer_class = PatientSerializer
    permission_classes = [ScopeOrRole]
    required_scope = Scope.CLAIMS_READ
    allowed_roles = PATIENT_ROLES

    def get_object(self) -> Patient:
        patient = patient_get_for_user(user=self.request.user, patient_id=self.kwargs["pk"])
        audit_record(
            actor=self.request.user,
            action=AuditEvent.Action.VIEW,
            obj=patient,
            summary="API patient detail",
            request=self.request,
        )
        return patient
