"""Input serializers refuse what they do not declare: a misspelt optional field (`helf_on`)
would otherwise be dropped silently and the write done without it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers


class StrictInputMixin:
    """Put first in a writable serializer's bases. Each key of the input that is not a
    writable field of the serializer is a field error ("Unknown field." or "Read-only
    field."); nested serializers using the mixin check their own keys."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            fields: Mapping[str, serializers.Field[Any, Any, Any, Any]] = self.fields  # type: ignore[attr-defined]
            errors: dict[str, list[str]] = {}
            for key in data:
                field = fields.get(key)
                if field is None:
                    errors[str(key)] = ["Unknown field."]
                elif field.read_only:
                    errors[str(key)] = ["Read-only field: it cannot be set."]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)  # type: ignore[misc]
