from django.apps import AppConfig


class AdherenceConfig(AppConfig):
    name = "adherence"
    verbose_name = "Adherence and worklists"
