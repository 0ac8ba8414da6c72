"""django-axes hooks: the address a sign-in attempt counts against, and the page a
locked-out sign-in sees instead of the form."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from axes.helpers import get_cool_off
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or behind the TLS proxy we already trust for the scheme
    (SECURE_PROXY_SSL_HEADER) the address that proxy saw: the last X-Forwarded-For entry,
    the one it appended (earlier entries are whatever the client chose to send)."""
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last
    return request.META.get("REMOTE_ADDR")


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any
) -> HttpResponse:
    """429 with a page saying sign-in is paused and until when. Every attempt during the
    lockout restarts the wait (django-axes' default), so the wait runs from this one."""
    cool_off = get_cool_off(request) or timedelta(minutes=15)
    attempted_at = getattr(request, "axes_attempt_time", None) or timezone.now()
    response = render(
        request,
        "registration/locked_out.html",
        {
            "retry_at": attempted_at + cool_off,
            "minutes": math.ceil(cool_off.total_seconds() / 60),
            "failure_limit": settings.AXES_FAILURE_LIMIT,
        },
        status=429,
    )
    response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response
