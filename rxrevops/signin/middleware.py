"""Per-request sign-in rules: idle sessions end, and a user who owes a second factor sees
only the pages that settle it."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import Resolver404, resolve, reverse
from django_htmx.http import HttpResponseClientRedirect

from rxrevops.api.problems import problem_response
from rxrevops.signin.factors import second_factor_owed

LAST_SEEN_KEY = "rxrevops_last_seen"
# the last-seen stamp is rewritten at most this often, not on every request (a session
# write each time would cost a database UPDATE per request)
STAMP_EVERY_SECONDS = 30

Handler = Callable[[HttpRequest], HttpResponse]


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def _send(request: HttpRequest, url: str) -> HttpResponse:
    """Go to `url`: the whole page for an htmx request, not a fragment swapped into it."""
    # read the header itself: django-htmx's middleware runs after this one
    if request.headers.get("HX-Request") == "true":
        return HttpResponseClientRedirect(url)
    return HttpResponseRedirect(url)


# sent by the page's own polling (a job's progress refreshing itself), not by the person
POLL_HEADER = "X-RxRevOps-Poll"


class IdleSessionMiddleware:
    """Signs out a session that made no request for SESSION_IDLE_MINUTES and sends the user
    to the sign-in page with a notice. On top of SESSION_COOKIE_AGE, the absolute limit.

    A page polling on its own (POLL_HEADER) is answered but is not activity: a job page
    left open on an unattended screen still ends its session after the idle limit."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # API-token requests have no session user here (DRF authenticates them later)
        if request.user.is_authenticated:
            now = int(time.time())
            last_seen = request.session.get(LAST_SEEN_KEY)
            idle_limit = settings.SESSION_IDLE_MINUTES * 60
            if isinstance(last_seen, int) and now - last_seen > idle_limit:
                logout(request)
                if not _is_api(request):
                    minutes = settings.SESSION_IDLE_MINUTES
                    messages.info(
                        request,
                        f"Your session expired after {minutes} minute{'s' if minutes != 1 else ''}"
                        " without activity. Sign in again to continue.",
                    )
                    login = redirect_to_login(request.get_full_path())
                    return _send(request, login["Location"])
                # an API call on a session continues anonymous: DRF answers 401/403
            elif request.headers.get(POLL_HEADER) == "1":
                pass
            elif not isinstance(last_seen, int) or now - last_seen >= STAMP_EVERY_SECONDS:
                request.session[LAST_SEEN_KEY] = now
        return self.get_response(request)


# pages a user who owes a second factor may still open
_OPEN_URL_NAMES = frozenset({"login", "logout", "healthz", "two_factor_verify", "two_factor_setup"})


class SecondFactorMiddleware:
    """After the password, a user with an authenticator must give its code; with
    REQUIRE_OWNER_TOTP an owner without one must add one. Until then every other page
    sends them there (the API answers 403)."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        owed = second_factor_owed(request.user)
        request.second_factor_owed = owed  # type: ignore[attr-defined]  # read by the page chrome
        if owed is None or self._is_open(request):
            return self.get_response(request)
        if _is_api(request):
            return problem_response(
                status_code=403,
                detail="Finish signing in with your authenticator code first.",
            )
        target = reverse("two_factor_verify" if owed == "verify" else "two_factor_setup")
        return _send(request, f"{target}?{urlencode({'next': request.get_full_path()})}")

    @staticmethod
    def _is_open(request: HttpRequest) -> bool:
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return False
        return match.url_name in _OPEN_URL_NAMES
