"""Registry outbox pages (included by clinical/urls.py, namespace "clinical")."""

from django.urls import URLPattern, path

from clinical import registry_views

urlpatterns: list[URLPattern] = [
    path("outbox/", registry_views.outbox, name="outbox"),
    path("outbox/<int:message_id>/", registry_views.outbox_message, name="outbox_message"),
    path("outbox/<int:message_id>/resend/", registry_views.outbox_resend, name="outbox_resend"),
    path("registry-sandbox/", registry_views.registry_sandbox, name="registry_sandbox"),
]
