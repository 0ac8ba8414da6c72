"""Who owns what: organizations, their store locations, and who may act in them."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from rxrevops.identifiers import validate_npi
from rxrevops.querysets import LocationQuerySet, OrganizationQuerySet

ncpdp_validator = RegexValidator(r"^\d{7}$", "NCPDP provider ID is 7 digits.")


class Organization(models.Model):
    """A pharmacy chain, a network (buying group / PSAO), or a member pharmacy of a network.

    Staff of a network organization reach the locations of its member organizations: that is
    how a PSAO's central reconciliation team works its members' remittances.
    """

    class Kind(models.TextChoices):
        CHAIN = "chain", "Chain"
        NETWORK = "network", "Network"
        MEMBER = "member", "Network member pharmacy"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.CHAIN)
    network = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
        limit_choices_to={"kind": Kind.NETWORK},
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Location(models.Model):
    """One store: the unit every fill, claim, remit and worklist belongs to."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="locations"
    )
    name = models.CharField(max_length=200)
    ncpdp_id = models.CharField("NCPDP ID", max_length=7, unique=True, validators=[ncpdp_validator])
    npi = models.CharField("NPI", max_length=10, unique=True, validators=[validate_npi])
    address_line = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=2, blank=True)
    postal_code = models.CharField(max_length=10, blank=True)
    timezone = models.CharField(max_length=64, default="America/Chicago")
    is_active = models.BooleanField(default=True)

    objects = LocationQuerySet.as_manager()

    class Meta:
        ordering = ["organization__name", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.ncpdp_id})"


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    REVENUE = "revenue", "Revenue (central reconciliation)"
    PHARMACIST = "pharmacist", "Pharmacist"
    TECHNICIAN = "technician", "Technician"


class Membership(models.Model):
    """A user's role in one organization, at all its locations or at named ones."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=12, choices=Role.choices)
    all_locations = models.BooleanField(
        default=True, help_text="Off: the user sees only the locations listed below."
    )
    locations = models.ManyToManyField(Location, blank=True, related_name="memberships")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="one_membership_per_org")
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} at {self.organization}"
