"""The second step of signing in (the authenticator code) and adding an authenticator."""

from __future__ import annotations

import django_otp
from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache

from rxrevops.signin.factors import (
    second_factor_owed,
    totp_code_check,
    totp_device_confirm,
    totp_device_for_verify,
    totp_device_pending,
    totp_secret_text,
)


class CodeForm(forms.Form):
    code = forms.CharField(
        label="6-digit code",
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return str(settings.LOGIN_REDIRECT_URL)


@never_cache
@login_required
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    device = totp_device_for_verify(user=request.user)  # type: ignore[arg-type]
    if device is None or second_factor_owed(request.user) != "verify":
        return redirect(_next_url(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        problem = totp_code_check(device=device, code=form.cleaned_data["code"])
        if problem is None:
            django_otp.login(request, device)
            return redirect(_next_url(request))
        form.add_error("code", problem)
    return render(
        request,
        "registration/two_factor_verify.html",
        {"form": form, "next": _next_url(request)},
        status=400 if form.errors else 200,
    )


@never_cache
@login_required
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    owed = second_factor_owed(request.user)
    if owed == "verify":  # has one already but has not given its code in this session
        return redirect(_next_url(request))
    if totp_device_for_verify(user=request.user) is not None:  # type: ignore[arg-type]
        return render(request, "registration/two_factor_setup.html", {"enrolled": True})
    device = totp_device_pending(user=request.user)  # type: ignore[arg-type]
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        problem = totp_code_check(device=device, code=form.cleaned_data["code"])
        if problem is None:
            totp_device_confirm(request=request, device=device)
            return redirect(_next_url(request))
        form.add_error("code", problem)
    return render(
        request,
        "registration/two_factor_setup.html",
        {
            "form": form,
            "secret": totp_secret_text(device),
            "otpauth_uri": device.config_url,
            "required": owed == "enrol",
            "next": _next_url(request),
        },
        status=400 if form.errors else 200,
    )
