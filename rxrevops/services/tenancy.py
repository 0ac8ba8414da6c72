"""Creating organizations, locations and the people who work in them."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import transaction

from rxrevops.models import Location, Membership, Organization, Role


def organization_upsert(
    *,
    slug: str,
    name: str,
    kind: str = Organization.Kind.CHAIN,
    network: Organization | None = None,
) -> Organization:
    org, _ = Organization.objects.update_or_create(
        slug=slug, defaults={"name": name, "kind": kind, "network": network}
    )
    return org


def location_upsert(
    *,
    organization: Organization,
    ncpdp_id: str,
    npi: str,
    name: str,
    address_line: str = "",
    city: str = "",
    state: str = "",
    postal_code: str = "",
    timezone: str = "America/Chicago",
) -> Location:
    """Create or update a store, keyed on its NCPDP ID."""
    location = Location(
        organization=organization,
        ncpdp_id=ncpdp_id,
        npi=npi,
        name=name,
        address_line=address_line,
        city=city,
        state=state,
        postal_code=postal_code,
        timezone=timezone,
    )
    existing = Location.objects.filter(ncpdp_id=ncpdp_id).first()
    if existing is not None:
        if existing.organization_id != organization.pk:
            raise ValueError(f"NCPDP {ncpdp_id} already belongs to {existing.organization}")
        location.pk = existing.pk
    location.full_clean(validate_unique=existing is None)
    location.save()
    return location


@transaction.atomic
def user_upsert_with_role(
    *,
    email: str,
    password: str | None,
    organization: Organization,
    role: str,
    locations: Iterable[Location] | None = None,
    first_name: str = "",
    last_name: str = "",
) -> AbstractUser:
    """A user (login = email) with one role in `organization`: at every location when
    `locations` is None, else at those locations only."""
    if role not in Role.values:
        raise ValueError(f"Unknown role {role!r}")
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(
        username=email, defaults={"email": email, "first_name": first_name, "last_name": last_name}
    )
    if password is not None:
        user.set_password(password)
        user.save(update_fields=["password"])
    membership, _ = Membership.objects.update_or_create(
        user=user,
        organization=organization,
        defaults={"role": role, "all_locations": locations is None},
    )
    membership.locations.set(list(locations or []))
    return user
