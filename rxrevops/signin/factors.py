"""The TOTP second factor: who owes one, enrolment, verification, and the admin's reset.

A user with a confirmed authenticator gives a code after the password, every sign-in. With
REQUIRE_OWNER_TOTP on, an owner without one must add one before using anything else. The
device model, its throttling of wrong codes (a doubling wait) and the session marker are
django-otp's.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

import django_otp
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from rxrevops.access import roles_for_user
from rxrevops.models import AuditEvent, Role
from rxrevops.services.audit import audit_record

DEVICE_NAME = "Authenticator app"
Owed = Literal["verify", "enrol"]


def second_factor_owed(user: Any) -> Owed | None:
    """What a signed-in user must do before any other page: give a code, add an
    authenticator, or nothing."""
    if not user.is_authenticated or not isinstance(getattr(user, "pk", None), int):
        return None
    if getattr(user, "otp_device", None) is not None:
        return None  # verified in this session
    if TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists():
        return "verify"
    if settings.REQUIRE_OWNER_TOTP and Role.OWNER in roles_for_user(user):
        return "enrol"
    return None


def totp_device_pending(*, user: User) -> TOTPDevice:
    """The authenticator being added: one unconfirmed device per user, kept across page
    loads so the secret shown does not change while the user types it in."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def totp_secret_text(device: TOTPDevice) -> str:
    """The base32 secret in groups of four, as authenticator apps accept it typed in."""
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def totp_code_check(*, device: TOTPDevice, code: str) -> str | None:
    """None when `code` is the device's current code; otherwise what to tell the user."""
    code = "".join(code.split())
    allowed, data = device.verify_is_allowed()
    if not allowed:
        until = (data or {}).get("locked_until")
        when = f" until {timezone.localtime(until):%H:%M:%S}" if until else " a few seconds"
        return f"Too many wrong codes in a row: wait{when}, then enter the newest code."
    if len(code) != 6 or not code.isdigit():
        return "Enter the 6-digit code your authenticator app shows."
    if not device.verify_token(code):
        return "That code is not right (or has expired). Try the newest one."
    return None


@transaction.atomic
def totp_device_confirm(*, request: HttpRequest, device: TOTPDevice) -> TOTPDevice:
    """Keep the device whose first code was right, drop other pending ones, and mark this
    session verified."""
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user_id=device.user_id, confirmed=False).delete()
    audit_record(
        actor=device.user,
        action=AuditEvent.Action.CREATE,
        summary="Added a TOTP authenticator for two-step sign-in",
        request=request,
    )
    django_otp.login(request, device)
    return device


def totp_device_for_verify(*, user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


@transaction.atomic
def totp_devices_reset(*, user: User, reset_by: str) -> int:
    """Remove every authenticator of `user` (lost phone): the next sign-in needs only the
    password, or, for an owner under REQUIRE_OWNER_TOTP, a new enrolment. Returns how many
    were removed."""
    removed, _ = TOTPDevice.objects.filter(user=user).delete()
    if removed:
        audit_record(
            actor=None,
            action=AuditEvent.Action.DELETE,
            summary=f"Reset the TOTP authenticator of {user.get_username()}",
            actor_label=reset_by[:150],
        )
    return removed
