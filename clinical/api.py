"""Immunizations over the API: the doses given at the caller's stores, and pushing one.

Tokens need `clinical:write` for both (there is no clinical read scope); signed-in users
need the owner or pharmacist role. Another store's patient answers 404. Lists name
patients, so each call is written to the audit log.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from adherence.services.build import worklists_request
from claims.selectors import patient_get_for_user
from clinical.models import Immunization
from clinical.selectors import immunizations_for_user
from clinical.serializers import (
    ImmunizationCreateSerializer,
    ImmunizationQuery,
    ImmunizationSerializer,
)
from clinical.services.immunizations import IMMUNIZATION_ROLES, immunization_record
from rxrevops.api.permissions import ScopeOrRole
from rxrevops.models import AuditEvent, Scope
from rxrevops.services.audit import audit_record


class ImmunizationList(generics.ListAPIView[Any]):
    """Doses given at the caller's stores, newest first (`?location=` NCPDP ID,
    `?patient=` id, `?since=` a day). POST records one dose and answers 201 with it."""

    serializer_class = ImmunizationSerializer
    permission_classes = [ScopeOrRole]
    required_scope = Scope.CLINICAL_WRITE
    allowed_roles = IMMUNIZATION_ROLES
    cursor_ordering = ("-administered_on", "-pk")

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # the schema is built without a query
            return Immunization.objects.none()
        query = ImmunizationQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        qs = immunizations_for_user(self.request.user, patient_id=q.get("patient"))
        if "location" in q:
            qs = qs.filter(location__ncpdp_id=q["location"])
        if "since" in q:
            qs = qs.filter(administered_on__gte=q["since"])
        return qs

    @extend_schema(parameters=[ImmunizationQuery])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = self.list(request, *args, **kwargs)
        audit_record(
            actor=request.user,
            action=AuditEvent.Action.VIEW,
            summary=f"API immunizations ({len(response.data['results'])} rows)",
            request=request,
        )
        return response

    @extend_schema(request=ImmunizationCreateSerializer, responses={201: ImmunizationSerializer})
    def post(self, request: Request) -> Response:
        data = ImmunizationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        patient = patient_get_for_user(user=request.user, patient_id=data.validated_data["patient"])
        try:
            imm = immunization_record(
                user=request.user, patient=patient, request=request, **data.service_kwargs()
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(
                exc.message_dict if hasattr(exc, "error_dict") else exc.messages
            ) from None
        # the dose closes its care gap at the next build: ask for one now
        worklists_request(
            organization=patient.location.organization,
            created_by=request.user if isinstance(request.user, User) else None,
        )
        return Response(ImmunizationSerializer(imm).data, status=status.HTTP_201_CREATED)
