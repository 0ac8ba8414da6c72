"""Every API error is an RFC 9457 problem (application/problem+json with type, title, status,
detail, and field errors for bad input); unknown input fields are refused; oversized bodies
are refused with 413 before they are read; wrong content types 415; no HTML under /api/."""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest
from django.test import Client, override_settings
from django.urls import include, path

import rxrevops.urls
from rxrevops.api.problems import field_errors
from rxrevops.models import Job
from rxrevops.services.tokens import api_token_create
from tests.support.problems import errors_by_field

PATIENTS = "/api/v1/patients/"
IMPORTS = "/api/v1/imports/"
ENCOUNTERS = "/api/v1/mtm/encounters/"


def _crash(request: HttpRequest) -> Any:
    raise RuntimeError("boom")


# this module is also a URLconf: the real one plus a view that crashes
urlpatterns = [path("api/v1/crash/", _crash), path("", include(rxrevops.urls))]
handler404 = rxrevops.urls.handler404
handler500 = rxrevops.urls.handler500


def _client(chain: SimpleNamespace, api_login: Any, *scopes: str) -> Any:
    scopes = scopes or ("claims:write", "claims:read", "clinical:write", "jobs:read")
    return api_login(token=api_token_create(organization=chain.org, name="t", scopes=scopes).key)


def _problem(response: Any, status: int, type_: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{type_}"
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


def test_no_credentials_and_a_bad_token_are_401_problems(chain: SimpleNamespace) -> None:
    body = _problem(Client().get(PATIENTS), 401, "not-authenticated")
    assert body["detail"] == "Authentication credentials were not provided."
    bad = Client().get(PATIENTS, HTTP_AUTHORIZATION="Token rxr_nope_nope")
    assert _problem(bad, 401, "not-authenticated")["detail"] == "Invalid or revoked token."
    assert bad["WWW-Authenticate"] == "Token"


def test_a_missing_scope_is_a_403_problem(chain: SimpleNamespace, api_login: Any) -> None:
    client = _client(chain, api_login, "jobs:read")
    body = _problem(client.get(PATIENTS), 403, "permission-denied")
    assert body["detail"] == "Your token or role does not allow this."


def test_a_hidden_row_and_an_unknown_url_are_404_problems(
    chain: SimpleNamespace, other_chain: SimpleNamespace, api_login: Any
) -> None:
    client = _client(chain, api_login)
    _problem(client.get(f"{PATIENTS}{other_chain.patient.pk}/"), 404, "not-found")
    body = _problem(client.get("/api/v1/no-such-thing/"), 404, "not-found")
    assert body["detail"] == "No API endpoint at this URL."
    # outside /api/ a 404 is still Django's page
    assert Client().get("/no-such-page/")["Content-Type"].startswith("text/html")


def test_a_wrong_method_is_a_405_problem(chain: SimpleNamespace, api_login: Any) -> None:
    body = _problem(api_login(chain.owner).delete(PATIENTS), 405, "method-not-allowed")
    assert body["detail"] == 'Method "DELETE" not allowed.'


def test_an_unacceptable_accept_is_a_406_problem(chain: SimpleNamespace, api_login: Any) -> None:
    response = _client(chain, api_login).get(PATIENTS, HTTP_ACCEPT="text/csv")
    _problem(response, 406, "not-acceptable")


@pytest.mark.urls(__name__)
def test_a_crash_under_api_is_a_500_problem_not_a_page(chain: SimpleNamespace) -> None:
    client = Client(raise_request_exception=False)
    body = _problem(client.get("/api/v1/crash/"), 500, "server-error")
    assert "boom" not in body["detail"]  # nothing internal leaks


def test_validation_errors_name_each_field_dotted(chain: SimpleNamespace, api_login: Any) -> None:
    client = _client(chain, api_login)
    response = client.post(
        ENCOUNTERS,
        {
            "patient": "abc",
            "minutes": 999,
            "medications": [{"name": "Lisinopril"}, {"name": "x", "dose": "y"}],
        },
        format="json",
    )
    body = _problem(response, 400, "validation-error")
    errors = errors_by_field(response)
    assert errors["patient"] == ["A valid integer is required."]
    assert errors["minutes"] == ["Ensure this value is less than or equal to 240."]
    assert errors["medications.1.dose"] == ["Unknown field."]
    assert body["detail"].startswith(f"{len(body['errors'])} problems with the input:")
    assert {e["code"] for e in body["errors"]} >= {"invalid", "max_value"}


def test_non_field_errors_have_a_null_field() -> None:
    from rest_framework.exceptions import ErrorDetail

    detail = {
        "non_field_errors": [ErrorDetail("Expected a JSON object.", code="invalid")],
        "problems[0].reason_code": [ErrorDetail("Unknown code QQ.", code="invalid")],
    }
    assert field_errors(detail) == [
        {"field": None, "message": "Expected a JSON object.", "code": "invalid"},
        {"field": "problems.0.reason_code", "message": "Unknown code QQ.", "code": "invalid"},
    ]


def test_unknown_and_read_only_fields_are_refused_by_name(
    chain: SimpleNamespace, api_login: Any
) -> None:
    client = _client(chain, api_login)
    response = client.post(
        "/api/v1/immunizations/",
        {"patient": chain.patient_a.pk, "lot_number": "L1", "colour": "red"},
        format="json",
    )
    assert errors_by_field(response) == {
        "lot_number": ["Unknown field."],
        "colour": ["Unknown field."],
    }
    form = client.post(
        IMPORTS,
        {"kind": "pms", "location": chain.loc_a.ncpdp_id, "store": "A", "file": io.BytesIO(b"x")},
    )
    assert errors_by_field(form) == {"store": ["Unknown field."]}
    assert not Job.objects.exists()


def test_a_malformed_json_body_is_a_400_problem(chain: SimpleNamespace, api_login: Any) -> None:
    client = _client(chain, api_login)
    response = client.generic("POST", ENCOUNTERS, b'{"patient": ', content_type="application/json")
    body = _problem(response, 400, "malformed-request")
    assert body["detail"].startswith("JSON parse error")


def test_a_wrong_content_type_is_a_415_problem(chain: SimpleNamespace, api_login: Any) -> None:
    client = _client(chain, api_login)
    response = client.generic("POST", ENCOUNTERS, b"patient=1", content_type="text/plain")
    body = _problem(response, 415, "unsupported-media-type")
    assert body["detail"] == 'Unsupported media type "text/plain" in request.'
    upload = client.generic("POST", IMPORTS, b"{}", content_type="application/json")
    _problem(upload, 415, "unsupported-media-type")


@override_settings(API_MAX_BODY_BYTES=1000)
def test_a_body_over_the_limit_is_refused_before_it_is_read(
    chain: SimpleNamespace, api_login: Any
) -> None:
    client = _client(chain, api_login)
    response = client.post(ENCOUNTERS, {"plan": "x" * 2000}, format="json")
    body = _problem(response, 413, "payload-too-large")
    assert body["detail"] == "The request body is larger than this endpoint accepts (1000 bytes)."
    # the upload endpoint has its own (file-sized) limit, so the same body is read there
    upload = client.post(
        IMPORTS,
        {"kind": "pms", "location": chain.loc_a.ncpdp_id, "file": io.BytesIO(b"x" * 2000)},
    )
    assert upload.status_code == 202, upload.content


def _wsgi(environ_extra: dict[str, Any], body: bytes) -> tuple[str, dict[str, str], bytes]:
    """Call the real WSGI application the way a server streaming a chunked body would."""
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": ENCOUNTERS,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "CONTENT_TYPE": "application/json",
        **environ_extra,
    }
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"], seen["headers"] = status, dict(headers)
        return None

    content = b"".join(WSGIHandler()(environ, start_response))
    return seen["status"], seen["headers"], content


@override_settings(API_MAX_BODY_BYTES=1000)
def test_a_chunked_body_without_length_is_counted_and_refused_past_the_limit(
    chain: SimpleNamespace, transactional_db: Any
) -> None:
    key = api_token_create(organization=chain.org, name="t", scopes=["clinical:write"]).key
    chunked = {
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input_terminated": True,
        "HTTP_AUTHORIZATION": f"Token {key}",
    }
    status, headers, content = _wsgi(chunked, b'{"plan": "' + b"x" * 5000 + b'"}')
    assert status.startswith("413")
    assert headers["Content-Type"] == "application/problem+json"
    assert b"1000 bytes" in content
    # under the limit the chunked body is read (and validated: no patient given)
    status, _, content = _wsgi(chunked, b'{"plan": "short"}')
    assert status.startswith("400")
    assert b'"field":"patient"' in content


def test_a_null_character_in_a_query_parameter_is_a_400_naming_it(
    chain: SimpleNamespace, api_login: Any
) -> None:
    client = _client(chain, api_login, "remits:read")
    response = client.get("/api/v1/reconciliation/exceptions/?kind=unpaid&payer=Ae%00tna")
    assert errors_by_field(response) == {"payer": ["Null characters are not allowed."]}
