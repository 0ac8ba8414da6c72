"""python manage.py totp_reset USERNAME

For a user who lost their authenticator: removes it, so they sign in with the password alone
(or, an owner under REQUIRE_OWNER_TOTP, add a new one right after). The admin does the same
by deleting the user's device under "TOTP devices".
"""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from rxrevops.signin.factors import totp_devices_reset


class Command(BaseCommand):
    help = "Remove a user's TOTP authenticator (lost phone); the reset is audit-logged."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            user = User.objects.get(username=opts["username"])
        except User.DoesNotExist:
            raise CommandError(f"No user named {opts['username']!r}.") from None
        removed = totp_devices_reset(user=user, reset_by=f"manage.py ({getpass.getuser()})")
        if not removed:
            raise CommandError(f"{user.username} has no authenticator to reset.")
        self.stdout.write(
            f"Removed {user.username}'s authenticator; their next sign-in needs only the password"
            " (owners must add a new one when REQUIRE_OWNER_TOTP is on)."
        )
