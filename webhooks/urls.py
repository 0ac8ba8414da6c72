from django.urls import path

from webhooks import views

urlpatterns = [
    path("<int:token_id>/webhooks/", views.endpoint_list, name="webhook_endpoint_list"),
    path(
        "webhooks/<int:endpoint_id>/delete/",
        views.endpoint_delete,
        name="webhook_endpoint_delete",
    ),
]
