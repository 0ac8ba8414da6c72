"""Webhook settings of an API token (owners)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from rxrevops.selectors.tokens import api_token_get_for_user
from rxrevops.web import nav_required
from webhooks.forms import WebhookEndpointForm
from webhooks.selectors import (
    webhook_delivery_list_for_token,
    webhook_endpoint_get_for_user,
    webhook_endpoint_list_for_token,
)
from webhooks.services import webhook_endpoint_create, webhook_endpoint_delete


@nav_required("token_list")
def endpoint_list(request: HttpRequest, token_id: int) -> HttpResponse:
    token = api_token_get_for_user(user=request.user, token_id=token_id)
    form = WebhookEndpointForm(request.POST or None)
    added = None
    if request.method == "POST" and form.is_valid():
        try:
            added = webhook_endpoint_create(
                token=token,
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
                created_by=request.user,  # type: ignore[arg-type]
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            form = WebhookEndpointForm()
    return render(
        request,
        "webhooks/endpoint_list.html",
        {
            "token": token,
            "form": form,
            "added": added,
            "endpoints": webhook_endpoint_list_for_token(token),
            "deliveries": webhook_delivery_list_for_token(token),
            "timeout": settings.WEBHOOK_TIMEOUT_SECONDS,
        },
        status=400 if request.method == "POST" and added is None else 200,
    )


@require_POST
@nav_required("token_list")
def endpoint_delete(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = webhook_endpoint_get_for_user(user=request.user, endpoint_id=endpoint_id)
    token_id = endpoint.token_id
    webhook_endpoint_delete(endpoint=endpoint)
    messages.success(request, f"Webhook to {endpoint.url} removed.")
    return redirect("webhook_endpoint_list", token_id=token_id)
