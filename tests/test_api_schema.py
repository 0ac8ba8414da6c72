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
