"""Registry outbox pages (included by clinical/urls.py)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
