"""Import pages and API: upload a file of any registered import kind (PMS export, 835
remittance, ...), follow its job, download its quarantine. The kinds come from
`rxrevops.services.imports.IMPORT_KINDS`; each app registers its own."""

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
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from claims.ingest.profiles import all_profiles
from rxrevops.access import (
    Principal,
    TokenPrincipal,
    location_list_for_user,
    object_get_for_user,
    org_wide_organization_ids_for_user,
    organization_list_for_user,
    roles_for_user,
)
from rxrevops.api.middleware import UPLOAD_BODY_BYTES
from rxrevops.api.permissions import ScopeOrRole
from rxrevops.api.serializers import JobSerializer
from rxrevops.api.strict import StrictInputMixin
from rxrevops.exports import neutralize
from rxrevops.models import Job, Location, Organization, Role, Scope
from rxrevops.selectors.jobs import import_job_list_for_user, job_get_for_user, quarantine_for_job
from rxrevops.services.imports import IMPORT_KINDS, ImportKind, UploadRefused
from rxrevops.web import role_required

UPLOAD_ROLES = (Role.OWNER, Role.REVENUE, Role.PHARMACIST)


def _kinds() -> tuple[str, ...]:
    return tuple(IMPORT_KINDS)


def _kinds_for_user(user: Principal) -> list[ImportKind]:
    """The kinds this user may upload: a per-store kind for their stores; a kind whose file
    names the stores (an 835) only with organization-wide access."""
    roles = roles_for_user(user)
    org_wide = bool(org_wide_organization_ids_for_user(user))
    return [
        k for k in IMPORT_KINDS.values() if roles & set(k.roles) and (k.per_location or org_wide)
    ]


def _upload(
    user: Principal,
    *,
    kind: ImportKind,
    location: Location | None,
    organization: Organization | None,
    upload: Any,
    profile: str,
) -> Job:
    if kind.per_location:
        if location is None:
            raise UploadRefused(f"Choose the store this {kind.label} belongs to.")
        organization = location.organization
    elif organization is None:
        raise UploadRefused(f"Choose the organization this {kind.label} is for.")
    return kind.create(
        organization=organization,
        location=location if kind.per_location else None,
        stream=upload,
        original_name=upload.name,
        profile=profile,
        uploaded_by=user if isinstance(user, User) else None,
    )


def _location_by_ncpdp(user: Principal, ncpdp: str) -> Location:
    location: Location = object_get_for_user(Location.objects, user=user, ncpdp_id=ncpdp)
    return location


def _organization_for_upload(user: Principal, slug: str | None) -> Organization:
    """The organization an org-level file (an 835) is for: the one named, among those the
    principal reaches organization-wide; 404 otherwise, like any other hidden row."""
    if slug:
        found: Organization = object_get_for_user(Organization.objects, user=user, slug=slug)
        return found
    orgs = organization_list_for_user(user)
    if orgs.count() != 1:
        raise serializers.ValidationError(
            {"organization": ["Name the organization (its slug): you reach more than one."]}
        )
    only: Organization = orgs.get()
    return only


def _profile_choices() -> list[tuple[str, str]]:
    return [("", "Detect from the headers")] + [
        (p.name, f"{p.name} — {p.description}") for p in all_profiles().values()
    ]


class UploadForm(forms.Form):
    kind = forms.ChoiceField(choices=(), label="What is it?", required=False)
    location = forms.ModelChoiceField(
        queryset=Location.objects.none(), required=False, help_text="For a PMS export"
    )
    organization = forms.ModelChoiceField(queryset=Organization.objects.none(), required=False)
    profile = forms.ChoiceField(choices=(), required=False, label="PMS layout")
    file = forms.FileField(help_text="CSV or XLSX export from your PMS, or an 835 file")

    def __init__(self, *args: Any, user: Principal, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kinds = {k.name: k for k in _kinds_for_user(user)}
        cast(forms.ChoiceField, self.fields["kind"]).choices = [
            (k.name, k.label) for k in self.kinds.values()
        ]
        cast(forms.ModelChoiceField, self.fields["location"]).queryset = location_list_for_user(
            user
        )
        orgs = organization_list_for_user(user)
        cast(forms.ModelChoiceField, self.fields["organization"]).queryset = orgs
        if orgs.count() == 1:
            self.fields["organization"].initial = orgs.first()
            self.fields["organization"].widget = forms.HiddenInput()
        cast(forms.ChoiceField, self.fields["profile"]).choices = _profile_choices()

    def clean_kind(self) -> str:
        kind: str = self.cleaned_data.get("kind") or next(iter(self.kinds), "")
        if kind not in self.kinds:
            raise forms.ValidationError("You cannot upload this kind of file.")
        return kind


@role_required(*UPLOAD_ROLES)
def import_list(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            job = _upload(
                request.user,
                kind=form.kinds[form.cleaned_data["kind"]],
                location=form.cleaned_data["location"],
                organization=form.cleaned_data["organization"],
                upload=form.cleaned_data["file"],
                profile=form.cleaned_data["profile"],
            )
        except UploadRefused as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("job_detail", job.pk)
    page = Paginator(import_job_list_for_user(request.user, kinds=_kinds()), 25).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "claims/import_list.html",
        {"form": form, "page": page, "kinds": form.kinds.values()},
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


class ImportCreateSerializer(StrictInputMixin, serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=())  # the registered import kinds
    location = serializers.CharField(
        required=False, help_text="NCPDP ID of the store (kind=pms; an 835 names its payees)"
    )
    organization = serializers.CharField(
        required=False,
        help_text="Organization slug for kind=x12_835 (default: your only organization)",
    )
    profile = serializers.ChoiceField(
        choices=["", *sorted(all_profiles())], required=False, allow_blank=True
    )
    file = serializers.FileField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(serializers.ChoiceField, self.fields["kind"]).choices = list(IMPORT_KINDS)


class QuarantineSerializer(serializers.Serializer[Any]):
    line = serializers.IntegerField()
    field = serializers.CharField()
    value = serializers.CharField()
    reason = serializers.CharField()


class ImportCreate(APIView):
    """Upload a file to import. Answers 202 with the job to poll (`GET /api/v1/imports/{id}/`)."""

    permission_classes = [ScopeOrRole]
    allowed_roles = UPLOAD_ROLES

    @property
    def required_scope(self) -> dict[str, list[str]]:
        # any registered kind's scope lets a token in; the kind's own scope is checked below
        return {"POST": sorted({k.scope for k in IMPORT_KINDS.values()})}

    parser_classes = [MultiPartParser, FormParser]
    max_body_bytes = UPLOAD_BODY_BYTES  # the file's own limit, not the API's default

    @extend_schema(request=ImportCreateSerializer, responses={202: JobSerializer})
    def post(self, request: Request) -> Response:
        data = ImportCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        kind = IMPORT_KINDS[data.validated_data["kind"]]
        user = request.user
        if isinstance(user, TokenPrincipal) and not user.token.has_scope(kind.scope):
            raise PermissionDenied(f"Uploading a {kind.label} needs the {kind.scope} scope.")
        if not isinstance(user, TokenPrincipal) and kind.name not in {
            k.name for k in _kinds_for_user(user)
        }:
            raise PermissionDenied(f"Your role does not allow uploading a {kind.label}.")
        location = organization = None
        if kind.per_location:
            if not data.validated_data.get("location"):
                raise serializers.ValidationError({"location": ["This field is required."]})
            location = _location_by_ncpdp(user, data.validated_data["location"])
        else:
            organization = _organization_for_upload(user, data.validated_data.get("organization"))
        try:
            job = _upload(
                user,
                kind=kind,
                location=location,
                organization=organization,
                upload=data.validated_data["file"],
                profile=data.validated_data.get("profile", ""),
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
        return import_job_list_for_user(self.request.user, kinds=_kinds())


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
            import_job_list_for_user(self.request.user, kinds=_kinds()), pk=self.kwargs["pk"]
        )
        return quarantine_for_job(job)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if request.query_params.get("download") == "csv":
            job = generics.get_object_or_404(
                import_job_list_for_user(request.user, kinds=_kinds()), pk=kwargs["pk"]
            )
            return _errors_csv(job)  # type: ignore[return-value]
        return super().list(request, *args, **kwargs)
