from __future__ import annotations

from typing import Any

from rest_framework import serializers

from rxrevops.models import Job, Location


class LocationSerializer(serializers.ModelSerializer[Location]):
    organization = serializers.CharField(source="organization.slug", read_only=True)

    class Meta:
        model = Location
        fields = [
            "id",
            "organization",
            "name",
            "ncpdp_id",
            "npi",
            "address_line",
            "city",
            "state",
            "postal_code",
            "timezone",
            "is_active",
        ]


class JobSerializer(serializers.ModelSerializer[Job]):
    location = serializers.CharField(source="location.ncpdp_id", read_only=True, allow_null=True)
    percent = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "label",
            "location",
            "status",
            "progress_done",
            "progress_total",
            "percent",
            "counts",
            "error_count",
            "errors",
            "message",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
        ]


class MeSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=["user", "token"])
    name = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())
    scopes = serializers.ListField(child=serializers.CharField())
    locations = LocationSerializer(many=True)
