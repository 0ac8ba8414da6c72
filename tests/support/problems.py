"""Reading the API's problem-details error bodies in tests."""

from __future__ import annotations

from typing import Any


def errors_by_field(response: Any) -> dict[str | None, list[str]]:
    """A 400's field errors as {field: [messages]}, after checking it is a validation
    problem (the shape every API error has, see rxrevops.api.problems)."""
    assert response["Content-Type"] == "application/problem+json", response["Content-Type"]
    body = response.json()
    assert body["type"] == "/problems/validation-error", body
    assert body["status"] == response.status_code == 400
    out: dict[str | None, list[str]] = {}
    for error in body["errors"]:
        out.setdefault(error["field"], []).append(error["message"])
    return out
