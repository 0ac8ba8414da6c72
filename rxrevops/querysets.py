"""Querysets that know who may see their rows.

Every queryset a user can reach from a page, an API call or an export goes through
`.for_user(user)`. `user` is a Django user or the principal of an API token; both resolve to
the same sets of organization and location ids in `rxrevops.access`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.db import models
from django.db.models import Q

if TYPE_CHECKING:
    from rxrevops.access import Principal

_M = TypeVar("_M", bound=models.Model)


class LocationScopedQuerySet(models.QuerySet[_M]):
    """Rows that belong to one store. `location_field` is the path to the Location;
    `viewer_roles`, when set, are the roles a person must hold at that store to see them
    (clinical notes for pharmacists, not for a revenue role held elsewhere)."""

    location_field = "location"
    viewer_roles: tuple[str, ...] | None = None

    def for_user(self, user: Principal) -> LocationScopedQuerySet[_M]:
        from rxrevops.access import location_ids_for_user

        ids = location_ids_for_user(user, roles=self.viewer_roles)
        return self.filter(**{f"{self.location_field}__in": ids})


class ClinicalQuerySet(LocationScopedQuerySet[_M]):
    """Clinical records: seen by owners and pharmacists of their store."""

    viewer_roles = ("owner", "pharmacist")


class ClinicalBillingQuerySet(LocationScopedQuerySet[_M]):
    """Clinical claims: also by the revenue staff of their store."""

    viewer_roles = ("owner", "pharmacist", "revenue")


class ReconciliationQuerySet(LocationScopedQuerySet[_M]):
    """Reconciliation results and cases: owners and revenue staff of their store."""

    viewer_roles = ("owner", "revenue")

    def for_location(self, location_id: int) -> LocationScopedQuerySet[_M]:
        return self.filter(**{self.location_field: location_id})


class OrganizationScopedQuerySet(models.QuerySet[_M]):
    """Rows that belong to an organization as a whole (tokens, audit, contracts): visible
    only to principals whose access spans the whole organization, never to a user scoped to
    some of its stores (an org-wide row can describe any store)."""

    organization_field = "organization"

    def for_user(self, user: Principal) -> OrganizationScopedQuerySet[_M]:
        from rxrevops.access import org_wide_organization_ids_for_user

        return self.filter(
            **{f"{self.organization_field}__in": org_wide_organization_ids_for_user(user)}
        )


class OrganizationOrLocationScopedQuerySet(models.QuerySet[_M]):
    """Rows with an organization and an optional location (jobs, org-wide remittances).

    A row with a location follows the location rule. A row without one is visible to users
    whose access spans the whole organization, never to a user scoped to some stores.
    """

    def for_user(self, user: Principal) -> OrganizationOrLocationScopedQuerySet[_M]:
        from rxrevops.access import location_ids_for_user, org_wide_organization_ids_for_user

        return self.filter(
            Q(location__in=location_ids_for_user(user))
            | Q(location__isnull=True, organization__in=org_wide_organization_ids_for_user(user))
        )


class LocationQuerySet(LocationScopedQuerySet[Any]):
    location_field = "pk"

    def active(self) -> LocationQuerySet:
        return self.filter(is_active=True)


class OrganizationQuerySet(OrganizationScopedQuerySet[Any]):
    organization_field = "pk"
