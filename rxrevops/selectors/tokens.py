from __future__ import annotations

from typing import Any

from django.http import Http404

from rxrevops.access import Principal, organization_ids_administered_by
from rxrevops.models import ApiToken


def api_token_list_for_user(user: Principal) -> Any:
    """Tokens of the organizations the user administers (owner at every location)."""
    return (
        ApiToken.objects.filter(organization__in=organization_ids_administered_by(user))
        .prefetch_related("locations")
        .select_related("created_by", "organization")
    )


def api_token_get_for_user(*, user: Principal, token_id: int) -> ApiToken:
    try:
        token: ApiToken = api_token_list_for_user(user).get(pk=token_id)
    except ApiToken.DoesNotExist as exc:
        raise Http404("Not found") from exc
    return token
