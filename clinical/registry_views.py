"""Registry outbox pages: the status list, one message, the pharmacist's Resend, and the
demo sandbox registry.

Every read goes through `clinical.registry_selectors` (another store's message is a 404);
the resend is `clinical.services.registry.registry_message_resend`.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from clinical.hl7.ack import AckError, sandbox_answer
from clinical.models import RegistryMessage
from clinical.registry_selectors import (
    locations_without_registry_for_user,
    registry_message_detail,
    registry_message_get_for_user,
    registry_messages_for_user,
    registry_status_counts_for_user,
)
from clinical.services.registry import CONTENT_TYPE, registry_message_resend
from rxrevops.web import nav_required

PER_PAGE = 50


@nav_required("clinical:index")
def outbox(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in RegistryMessage.Status.values:
        status = ""
    rows = registry_messages_for_user(request.user, status=status)
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "status": status,
        "query": f"status={status}" if status else "",
        "counts": registry_status_counts_for_user(request.user),
        "unserved": locations_without_registry_for_user(request.user),
    }
    return render(request, "clinical/outbox.html", context)


@nav_required("clinical:index")
def outbox_message(request: HttpRequest, message_id: int) -> HttpResponse:
    message = registry_message_get_for_user(user=request.user, message_id=message_id)
    return render(
        request, "clinical/outbox_message.html", {"detail": registry_message_detail(message)}
    )


@require_POST
@nav_required("clinical:index")
def outbox_resend(request: HttpRequest, message_id: int) -> HttpResponseBase:
    message = registry_message_get_for_user(user=request.user, message_id=message_id)
    try:
        message = registry_message_resend(user=request.user, message=message, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if message.status == RegistryMessage.Status.FAILED:
            messages.error(request, "The dose still cannot make a valid message: see below.")
        else:
            messages.success(request, f"Queued again for {message.registry.name}.")
    return redirect("clinical:outbox_message", message_id=message.pk)


@csrf_exempt  # a registry endpoint: called by the outbox's HTTP client, not a browser form
@require_POST
def registry_sandbox(request: HttpRequest) -> HttpResponse:
    """A stand-in for a state registry's test environment (only when
    IMMUNIZATION_REGISTRY_SANDBOX is on): takes a VXU, answers an ACK."""
    if not settings.IMMUNIZATION_REGISTRY_SANDBOX:
        raise Http404("No registry sandbox here")
    try:
        answer = sandbox_answer(request.body.decode("utf-8", "replace"), sent_at=timezone.now())
    except AckError as exc:
        return HttpResponse(f"Not an HL7 message: {exc}", status=400, content_type="text/plain")
    return HttpResponse(answer, content_type=CONTENT_TYPE)
