"""Import pages and API: upload a PMS export, follow its job, download its quarantine."""

from __future__ import annotations

import csv
import io
from typing import Any, cast

from django import forms
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from claims.claims_web import neutralize
from claims.ingest.profiles import all_profiles
from claims.services.pms_import import pms_import_create
from rxrevops.access import Principal, location_list_for_user, object_get_for_user
from rxrevops.api.permissions import ScopeOrRole
from rxrevops.api.serializers import JobSerializer
from rxrevops.models import Job, Location, Role, Scope
from rxrevops.selectors.jobs import import_job_list_for_user, job_get_for_user, quarantine_for_job
from rxrevops.services.imports import UploadRefused
from rxrevops.web import role_required

IMPORT_KINDS = ("pms",)
UPLOAD_ROLES = (Role.OWNER, Role.REVENUE, Role.PHARMACIST)


def _location_by_ncpdp(user: Principal, ncpdp: str) -> Location:
    location: Location = object_get_for_user(Location.objects, user=user, ncpdp_id=ncpdp)
    return location


def _profile_choices() -> list[tuple[str, str]]:
    return [("", "Detect from the headers")] + [
        (p.name, f"{p.name} — {p.description}") for p in all_profiles().values()
    ]


class UploadForm(forms.Form):
    location = forms.ModelChoiceField(queryset=Location.objects.none())
    profile = forms.ChoiceField(choices=(), required=False)
    file = forms.FileField(help_text="CSV or XLSX export from your PMS")

    def __init__(self, *args: Any, user: Principal, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["location"]).queryset = location_list_for_user(
            user
        )
        cast(forms.ChoiceField, self.fields["profile"]).choices = _profile_choices()


@role_required(*UPLOAD_ROLES)
def import_list(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = pms_import_create(
                location=form.cleaned_data["location"],
                stream=upload,
                original_name=upload.name,
                profile=form.cleaned_data["profile"],
                uploaded_by=request.user,  # type: ignore[arg-type]
            )
        except UploadRefused as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("job_detail", job.pk)
    page = Paginator(import_job_list_for_user(request.user, kinds=IMPORT_KINDS), 25).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "claims/import_list.html",
        {"form": form, "page": page},
        status=400 if form.errors else 200,
    )


@role_required(*UPLOAD_ROLES)
def import_errors_csv(request: HttpRequest, job_id: int) -> HttpResponse:
    job = job_get_for_user(user=request.user, job_id=job_id)
    return _errors_csv(job)


def _errors_csv(job: Job) -> HttpResponse:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["line", "field", "value", "reason"])
    for q in quarantine_for_job(job).iterator():
        writer.writerow([q.line, q.field, neutralize(q.value), q.reason])
    response = HttpResponse(buf.getvalue(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="job-{job.pk}-quarantine.csv"'
    return response


class ImportCreateSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=IMPORT_KINDS)
    location = serializers.CharField(help_text="NCPDP ID of the store")
    profile = serializers.ChoiceField(
        choices=["", *sorted(all_profiles())], required=False, allow_blank=True
    )
    file = serializers.FileField()


class QuarantineSerializer(serializers.Serializer[Any]):
    line = serializers.IntegerField()
    field = serializers.CharField()
    value = serializers.CharField()
    reason = serializers.CharField()


class ImportCreate(APIView):
    """Upload a file to import. Answers 202 with the job to poll (`GET /api/v1/imports/{id}/`)."""

    permission_classes = [ScopeOrRole]
    required_scope = Scope.CLAIMS_WRITE
    allowed_roles = UPLOAD_ROLES
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request=ImportCreateSerializer, responses={202: JobSerializer})
    def post(self, request: Request) -> Response:
        data = ImportCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        location = _location_by_ncpdp(request.user, data.validated_data["location"])
        upload = data.validated_data["file"]
        try:
            job = pms_import_create(
                location=location,
                stream=upload,
                original_name=upload.name,
                profile=data.validated_data.get("profile", ""),
                uploaded_by=request.user if isinstance(request.user, User) else None,
            )
        except UploadRefused as exc:
            raise serializers.ValidationError({"file": [str(exc)]}) from None
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ImportDetail(generics.RetrieveAPIView[Any]):
    """An import's job: status, progress, counts (read = loaded + quarantined + unchanged)."""

    serializer_class = JobSerializer
    permission_classes = [ScopeOrRole]
    required_scope = Scope.JOBS_READ
    allowed_roles = UPLOAD_ROLES

    def get_queryset(self) -> Any:
        return import_job_list_for_user(self.request.user, kinds=IMPORT_KINDS)


class ImportErrors(generics.ListAPIView[Any]):
    """Every quarantined row of an import, in file order. `?download=csv` gives them as a
    CSV file to fix and upload again."""

    serializer_class = QuarantineSerializer
    permission_classes = [ScopeOrRole]
    required_scope = Scope.JOBS_READ
    allowed_roles = UPLOAD_ROLES
    cursor_ordering = ("line", "pk")

    def get_queryset(self) -> Any:
        job = generics.get_object_or_404(
            import_job_list_for_user(self.request.user, kinds=IMPORT_KINDS), pk=self.kwargs["pk"]
        )
        return quarantine_for_job(job)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if request.query_params.get("download") == "csv":
            job = generics.get_object_or_404(
                import_job_list_for_user(request.user, kinds=IMPORT_KINDS), pk=kwargs["pk"]
            )
            return _errors_csv(job)  # type: ignore[return-value]
        return super().list(request, *args, **kwargs)
