"""The one access layer: which organizations, locations and roles a principal has.

A principal is a signed-in Django user or an API token's principal (`TokenPrincipal`). Views,
API views, exports and tasks acting for someone ask these helpers, or a queryset's
`.for_user()`, and nothing else. Results are cached on the principal object, which lives for
one request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404

from rxrevops.models.tenancy import Location, Membership, Organization, Role

if TYPE_CHECKING:
    from rxrevops.models.tokens import ApiToken

_M = TypeVar("_M", bound=models.Model)

# Which home page and which navigation a role gets, most privileged first.
ROLE_PRECEDENCE = [Role.OWNER, Role.REVENUE, Role.PHARMACIST, Role.TECHNICIAN]


@dataclass(eq=False)
class TokenPrincipal:
    """What `request.user` is for a request authenticated with an API token."""

    token: ApiToken
    is_authenticated: bool = True
    is_active: bool = True
    is_staff: bool = False
    is_superuser: bool = False
    is_anonymous: bool = False
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def pk(self) -> None:
        return None

    @property
    def username(self) -> str:
        return f"token:{self.token.prefix}"

    def __str__(self) -> str:
        return f"API token {self.token.name} ({self.token.prefix})"


Principal = User | AnonymousUser | TokenPrincipal


@dataclass(frozen=True)
class Grants:
    location_ids: frozenset[int]
    organization_ids: frozenset[int]
    org_wide_organization_ids: frozenset[int]
    roles: frozenset[str]
    # where each role is held: a pharmacist at one store who is revenue staff at a network
    # does not read clinical notes across the network
    role_location_ids: tuple[tuple[str, frozenset[int]], ...] = ()

    def locations_with(self, roles: tuple[str, ...]) -> frozenset[int]:
        out: set[int] = set()
        for role, ids in self.role_location_ids:
            if role in roles:
                out |= ids
        return frozenset(out)


_EMPTY = Grants(frozenset(), frozenset(), frozenset(), frozenset())


def _grants_for_token(token: ApiToken) -> Grants:
    if not token.is_usable:
        return _EMPTY
    org_ids = frozenset(_with_network_members([token.organization_id]))
    scoped = list(token.locations.values_list("pk", flat=True))
    if scoped:
        loc_ids = frozenset(
            Location.objects.filter(pk__in=scoped, organization__in=org_ids).values_list(
                "pk", flat=True
            )
        )
        org_wide: frozenset[int] = frozenset()
    else:
        loc_ids = frozenset(
            Location.objects.filter(organization__in=org_ids).values_list("pk", flat=True)
        )
        org_wide = org_ids
    return Grants(loc_ids, org_ids, org_wide, frozenset())


def _with_network_members(org_ids: list[int]) -> set[int]:
    members = Organization.objects.filter(network__in=org_ids).values_list("pk", flat=True)
    return set(org_ids) | set(members)


def _grants_for_user(user: User) -> Grants:
    memberships = list(Membership.objects.filter(user=user).prefetch_related("locations"))
    if not memberships:
        return _EMPTY
    org_wide = _with_network_members([m.organization_id for m in memberships if m.all_locations])
    stores_of = dict(
        Location.objects.filter(organization__in=org_wide).values_list("pk", "organization_id")
    )
    loc_ids = set(stores_of)
    org_ids = set(org_wide)
    by_role: dict[str, set[int]] = {}
    for m in memberships:
        if m.all_locations:
            reach = _with_network_members([m.organization_id])
            held = {pk for pk, org in stores_of.items() if org in reach}
        else:
            held = {loc.pk for loc in m.locations.all() if loc.organization_id == m.organization_id}
            loc_ids.update(held)
            org_ids.add(m.organization_id)
        by_role.setdefault(m.role, set()).update(held)
    return Grants(
        frozenset(loc_ids),
        frozenset(org_ids),
        frozenset(org_wide),
        frozenset(m.role for m in memberships),
        tuple(sorted((role, frozenset(ids)) for role, ids in by_role.items())),
    )


def grants_for_user(user: Principal) -> Grants:
    if not user.is_authenticated:
        return _EMPTY
    cache: dict[str, Any]
    if isinstance(user, TokenPrincipal):
        cache = user._cache
    else:
        cache = user.__dict__.setdefault("_rxrevops_access", {})
    if "grants" not in cache:
        cache["grants"] = (
            _grants_for_token(user.token)
            if isinstance(user, TokenPrincipal)
            else _grants_for_user(user)
        )
    grants: Grants = cache["grants"]
    return grants


def location_ids_for_user(
    user: Principal, *, roles: tuple[str, ...] | None = None
) -> frozenset[int]:
    """The stores the principal reaches; with `roles`, only those where a person holds one of
    them (an API token carries scopes, not roles: it reaches its stores)."""
    grants = grants_for_user(user)
    if roles is None or isinstance(user, TokenPrincipal):
        return grants.location_ids
    return grants.locations_with(roles)


def organization_ids_for_user(user: Principal) -> frozenset[int]:
    return grants_for_user(user).organization_ids


def org_wide_organization_ids_for_user(user: Principal) -> frozenset[int]:
    """Organizations where the principal's access spans every location."""
    return grants_for_user(user).org_wide_organization_ids


def roles_for_user(user: Principal) -> frozenset[str]:
    return grants_for_user(user).roles


def home_organization_id_for_user(user: Principal) -> int | None:
    """The organization an event of this principal is filed under when no row names one."""
    if isinstance(user, TokenPrincipal):
        return int(user.token.organization_id)
    return min(grants_for_user(user).organization_ids, default=None)


def user_has_role(user: Principal, *roles: str) -> bool:
    return bool(roles_for_user(user) & set(roles))


def require_role_or_scope(
    user: Principal, *, roles: tuple[str, ...], scope: str, refusal: str
) -> None:
    """For a service that acts: a person needs one of `roles`, an integration's API token
    needs `scope` (tokens carry scopes, not roles). Raises PermissionDenied otherwise."""
    if isinstance(user, TokenPrincipal):
        if scope not in user.token.scopes:
            raise PermissionDenied(f"This API token lacks the {scope} scope.")
        return
    if not user_has_role(user, *roles):
        raise PermissionDenied(refusal)


def primary_role_for_user(user: Principal) -> str | None:
    roles = roles_for_user(user)
    return next((r.value for r in ROLE_PRECEDENCE if r in roles), None)


def object_get_for_user(queryset: Any, *, user: Principal, **lookup: Any) -> Any:
    """Fetch one row through `queryset.for_user(user)`; anything else is a 404.

    A row of another organization or location and a row that does not exist answer the same,
    so ids cannot be probed across tenants.
    """
    try:
        return queryset.for_user(user).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("Not found") from exc


def location_list_for_user(user: Principal) -> Any:
    return Location.objects.for_user(user).select_related("organization")


def location_get_for_user(*, user: Principal, location_id: int) -> Location:
    location: Location = object_get_for_user(Location.objects, user=user, pk=location_id)
    return location


def organization_ids_administered_by(user: Principal) -> frozenset[int]:
    """Organizations where the user is an owner across every location: the ones whose
    tokens and settings they manage. API tokens administer nothing."""
    if isinstance(user, TokenPrincipal) or not user.is_authenticated:
        return frozenset()
    return frozenset(
        Membership.objects.filter(user=user, role=Role.OWNER, all_locations=True).values_list(
            "organization_id", flat=True
        )
    )


def organization_list_for_user(user: Principal) -> Any:
    return Organization.objects.for_user(user)
