from __future__ import annotations

from typing import Any

from django.http import Http404

from rxrevops.access import Principal
from rxrevops.models import ApiToken
from rxrevops.selectors.tokens import api_token_list_for_user
from webhooks.models import WebhookDelivery, WebhookEndpoint


def webhook_endpoint_list_for_token(token: ApiToken) -> Any:
    return WebhookEndpoint.objects.filter(token=token).order_by("pk")


def webhook_endpoint_get_for_user(*, user: Principal, endpoint_id: int) -> WebhookEndpoint:
    """An endpoint of a token the user administers (404 otherwise)."""
    try:
        endpoint: WebhookEndpoint = WebhookEndpoint.objects.select_related("token").get(
            pk=endpoint_id, token__in=api_token_list_for_user(user)
        )
    except WebhookEndpoint.DoesNotExist as exc:
        raise Http404("Not found") from exc
    return endpoint


def webhook_delivery_list_for_token(token: ApiToken, *, limit: int = 50) -> Any:
    return (
        WebhookDelivery.objects.filter(endpoint__token=token)
        .select_related("endpoint")
        .order_by("-pk")[:limit]
    )
