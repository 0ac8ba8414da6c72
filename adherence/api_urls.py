from django.urls import path

from adherence import api

urlpatterns = [
    path("adherence/pdc/", api.PdcList.as_view(), name="adherence-pdc"),
    path("adherence/rates/", api.RateList.as_view(), name="adherence-rates"),
    path("worklists/med-sync/", api.MedSyncCallList.as_view(), name="worklist-med-sync"),
    path("worklists/care-gaps/", api.CareGapList.as_view(), name="worklist-care-gaps"),
    path("worklists/refills/", api.RefillList.as_view(), name="worklist-refills"),
    path("worklists/items/<int:pk>/", api.WorklistItemDetail.as_view(), name="worklist-item"),
    path(
        "worklists/items/<int:pk>/outreach/",
        api.OutreachCreate.as_view(),
        name="worklist-item-outreach",
    ),
]
