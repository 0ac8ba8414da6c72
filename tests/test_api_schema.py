"""The OpenAPI document is valid, warning-free, and served with local docs."""

from __future__ import annotations

from io import StringIO
from typing import Any

import yaml
from django.core.management import call_command


def test_openapi_schema_validates_without_warnings(db: Any) -> None:
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    schema = yaml.safe_load(out.getvalue())
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/patients/{id}/" in schema["paths"]
    assert schema["components"]["securitySchemes"]["ApiToken"]["name"] == "Authorization"


def test_api_docs_page_uses_only_locally_served_assets(client: Any, db: Any) -> None:
    html = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    assert client.get("/api/schema/").status_code == 200


def _schema() -> dict[str, Any]:
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    loaded: dict[str, Any] = yaml.safe_load(out.getvalue())
    return loaded


def test_every_operation_documents_the_shared_conventions(db: Any) -> None:
    """Problem-details errors, Idempotency-Key on POSTs, ETag/If-None-Match on GETs and
    Retry-After on 429, on every operation (added by rxrevops.api.schema.AutoSchema)."""
    schema = _schema()
    problem = schema["components"]["schemas"]["ProblemDetail"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    field_error = schema["components"]["schemas"]["ProblemFieldError"]
    assert field_error["properties"]["field"]["nullable"] is True
    ref = {"$ref": "#/components/schemas/ProblemDetail"}
    operations = [
        (path, method, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert len(operations) >= 20
    for path, method, op in operations:
        where = f"{method.upper()} {path}"
        responses = op["responses"]
        errors = ["400", "401", "403", "404", "429"]
        if method == "post":
            errors += ["409", "413", "415"]
        for code in errors:
            assert responses[code]["content"] == {"application/problem+json": {"schema": ref}}, (
                f"{where} {code}"
            )
        assert "Retry-After" in responses["429"]["headers"], where
        headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
        if method == "post":
            assert "Idempotency-Key" in headers, where
            ok = next(c for c in responses if c.startswith("2"))
            assert "Idempotent-Replayed" in responses[ok]["headers"], where
            assert "Retry-After" in responses["409"]["headers"], where
        if method == "get":
            assert "If-None-Match" in headers, where
            assert "ETag" in responses["200"]["headers"], where
            assert "content" not in responses["304"], where
