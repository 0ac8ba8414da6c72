"""MTM encounters over the API: list the caller's stores' encounters, push one (optionally
signed in the same call), read one.

Tokens need `clinical:write`; signed-in users the owner or pharmacist role. Another store's
patient or encounter answers 404. A push that cannot be signed writes nothing and answers
400 with the reasons by field.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from adherence.selectors import worklist_item_get_for_user
from claims.selectors import patient_get_for_user
from clinical.encounter_selectors import encounter_get_for_user, encounters_current_for_user
from clinical.encounter_serializers import (
    EncounterCreateSerializer,
    EncounterQuery,
    EncounterSerializer,
)
from clinical.models import Encounter
from clinical.services.encounters import (
    MTM_ROLES,
    encounter_save,
    encounter_sign,
    encounter_start,
)
from rxrevops.api.permissions import ScopeOrRole
from rxrevops.models import AuditEvent, Scope
from rxrevops.services.audit import audit_record


def _api_error(exc: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(
        exc.message_dict if hasattr(exc, "error_dict") else exc.messages
    )


class EncounterList(generics.ListAPIView[Any]):
    """MTM encounters at the caller's stores, latest version of each, newest first
    (`?location=` NCPDP ID, `?patient=`, `?status=draft|signed`, `?since=`). POST documents
    one (and with `"sign": true` signs it) and answers 201 with it."""

    serializer_class = EncounterSerializer
    permission_classes = [ScopeOrRole]
    required_scope = Scope.CLINICAL_WRITE
    allowed_roles = MTM_ROLES
    cursor_ordering = ("-held_on", "-pk")

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Encounter.objects.none()
        query = EncounterQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        qs = encounters_current_for_user(
            self.request.user, status=q.get("status"), patient_id=q.get("patient")
        ).prefetch_related("medications", "problems")
        if "location" in q:
            qs = qs.filter(location__ncpdp_id=q["location"])
        if "since" in q:
            qs = qs.filter(held_on__gte=q["since"])
        return qs

    @extend_schema(parameters=[EncounterQuery])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = self.list(request, *args, **kwargs)
        audit_record(
            actor=request.user,
            action=AuditEvent.Action.VIEW,
            summary=f"API MTM encounters ({len(response.data['results'])} rows)",
            request=request,
        )
        return response

    @extend_schema(request=EncounterCreateSerializer, responses={201: EncounterSerializer})
    def post(self, request: Request) -> Response:
        data = EncounterCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        patient = patient_get_for_user(user=request.user, patient_id=v["patient"])
        item = None
        if "worklist_item" in v:
            item = worklist_item_get_for_user(user=request.user, item_id=v["worklist_item"])
        try:
            with transaction.atomic():
                enc = encounter_start(
                    user=request.user,
                    patient=patient,
                    kind=v["kind"],
                    worklist_item=item,
                    reuse_draft=False,
                    request=request,
                )
                enc = encounter_save(
                    user=request.user,
                    encounter=enc,
                    fields=data.fields_for_save(),
                    medications=v.get("medications"),
                    problems=v.get("problems"),
                    request=request,
                )
                if v["sign"]:
                    enc = encounter_sign(user=request.user, encounter=enc, request=request)
        except DjangoValidationError as exc:
            raise _api_error(exc) from None
        enc = encounter_get_for_user(user=request.user, encounter_id=enc.pk)
        return Response(EncounterSerializer(enc).data, status=status.HTTP_201_CREATED)


class EncounterDetail(generics.RetrieveAPIView[Any]):
    """One encounter version, with its medication list and problems."""

    serializer_class = EncounterSerializer
    permission_classes = [ScopeOrRole]
    required_scope = Scope.CLINICAL_WRITE
    allowed_roles = MTM_ROLES

    def get_object(self) -> Encounter:
        enc = encounter_get_for_user(user=self.request.user, encounter_id=self.kwargs["pk"])
        audit_record(
            actor=self.request.user,
            action=AuditEvent.Action.VIEW,
            obj=enc,
            summary=f"API MTM encounter {enc.pk}",
            request=self.request,
        )
        return enc
