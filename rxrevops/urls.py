from csp.constants import SELF
from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path
from django.views import defaults
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from rxrevops import views
from rxrevops.api import problems
from rxrevops.api import views as api
from rxrevops.signin import views as signin

api_v1: list[URLPattern | URLResolver] = [
    path("me/", api.MeView.as_view(), name="me"),
    path("locations/", api.LocationList.as_view(), name="location-list"),
    path("locations/<int:pk>/", api.LocationDetail.as_view(), name="location-detail"),
    path("jobs/", api.JobList.as_view(), name="job-list"),
    path("jobs/<int:pk>/", api.JobDetail.as_view(), name="job-detail"),
    path("", include("claims.api_urls")),
    path("", include("reconciliation.api_urls")),
    path("", include("adherence.api_urls")),
    path("", include("clinical.api_urls")),
    path("", include("dashboards.api_urls")),
    path("", include("integrations.api_urls")),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/two-factor/", signin.two_factor_verify, name="two_factor_verify"),
    path("accounts/two-factor/setup/", signin.two_factor_setup, name="two_factor_setup"),
    path("jobs/", views.job_list, name="job_list"),
    path("jobs/<int:job_id>/", views.job_detail, name="job_detail"),
    path("audit/", views.audit_list, name="audit_list"),
    path("audit/export.csv", views.audit_export, name="audit_export"),
    path("settings/tokens/", views.token_list, name="token_list"),
    path("settings/tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
    path("settings/tokens/", include("webhooks.urls")),
    path("patients/", include("claims.urls")),
    path("imports/", include("claims.import_urls")),
    path("claims/", include("claims.claim_urls")),
    path("dashboards/", include("dashboards.urls")),
    path("reconciliation/", include("reconciliation.urls")),
    path("adherence/", include("adherence.urls")),
    path("clinical/", include("clinical.urls")),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # the split view serves its start-up script from a URL, not inline (CSP)
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api_docs"),
    # ReDoc builds its search index in a worker started from a blob: URL
    path(
        "api/redoc/",
        csp_update({"worker-src": [SELF, "blob:"]})(
            SpectacularRedocView.as_view(url_name="schema")
        ),
        name="api_redoc",
    ),
    path("admin/", admin.site.urls),
]

# Under /api/ an unknown URL or a crash answers a problem (application/problem+json) like
# every other API error; elsewhere Django's pages.
handler400 = problems.api_or_default(
    400, "The request could not be understood.", defaults.bad_request
)
handler403 = problems.api_or_default(403, "Permission denied.", defaults.permission_denied)
handler404 = problems.api_or_default(404, "No API endpoint at this URL.", defaults.page_not_found)
handler500 = problems.api_or_default(
    500, "The server failed to answer this request; the error is logged.", defaults.server_error
)
