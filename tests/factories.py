"""factory_boy factories for the platform: organizations, locations, users per role."""

from __future__ import annotations

from datetime import date
from typing import Any

import factory
from django.contrib.auth.models import User

from claims.models import Patient
from rxrevops.identifiers import npi_is_valid
from rxrevops.models import Location, Membership, Organization, Role

PASSWORD = "correct-horse-battery-staple"


def _valid_npi(n: int) -> str:
    base = f"1{n:08d}"
    return next(base + str(d) for d in range(10) if npi_is_valid(base + str(d)))


class OrganizationFactory(factory.django.DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Test Chain {n}")
    slug = factory.Sequence(lambda n: f"chain-{n}")


class LocationFactory(factory.django.DjangoModelFactory[Location]):
    class Meta:
        model = Location

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Store {n}")
    ncpdp_id = factory.Sequence(lambda n: f"{5500000 + n}")
    npi = factory.Sequence(_valid_npi)
    city = "Springfield"
    state = "IL"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}@example.test")
    email = factory.SelfAttribute("username")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj: User, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create:
            obj.save()


def member(
    *,
    organization: Organization,
    role: str = Role.OWNER,
    locations: list[Location] | None = None,
    **user_fields: Any,
) -> User:
    """A user with `role` in `organization`, at every location or only at `locations`."""
    user = UserFactory.create(**user_fields)
    membership = Membership.objects.create(
        user=user, organization=organization, role=role, all_locations=locations is None
    )
    if locations:
        membership.locations.set(locations)
    return user


class PatientFactory(factory.django.DjangoModelFactory[Patient]):
    class Meta:
        model = Patient

    location = factory.SubFactory(LocationFactory)
    pms_patient_id = factory.Sequence(lambda n: f"PT{n:06d}")
    first_name = factory.Sequence(lambda n: f"Synthia{n}")
    last_name = factory.Sequence(lambda n: f"Testperson{n}")
    date_of_birth = date(1955, 3, 14)
