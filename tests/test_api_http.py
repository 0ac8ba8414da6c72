"""HTTP conventions on reads: ETags with 304 for a matching If-None-Match, and the rate
limit per token (counted in the real Redis) answering 429 with Retry-After."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import redis
from django.conf import settings
from django.core.cache import caches
from django.http import HttpResponse, StreamingHttpResponse
from django.test import RequestFactory, override_settings

from rxrevops.api.middleware import ApiConditionalGetMiddleware
from rxrevops.services.tokens import api_token_create

PATIENTS = "/api/v1/patients/"


def _client(chain: SimpleNamespace, api_login: Any) -> Any:
    key = api_token_create(organization=chain.org, name="t", scopes=["claims:read", "jobs:read"])
    return api_login(token=key.key)


def test_a_read_carries_an_etag_and_an_unchanged_one_is_a_bodiless_304(
    chain: SimpleNamespace, api_login: Any
) -> None:
    client = _client(chain, api_login)
    first = client.get(PATIENTS)
    etag = first["ETag"]
    assert first.status_code == 200
    assert etag.startswith('"')
    again = client.get(PATIENTS, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    chain.patient_a.first_name = "Changed"
    chain.patient_a.save()
    changed = client.get(PATIENTS, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag


def test_csv_downloads_and_streams_are_left_whole(chain: SimpleNamespace) -> None:
    middleware = ApiConditionalGetMiddleware(lambda request: HttpResponse())
    request = RequestFactory().get("/api/v1/imports/1/errors/?download=csv")

    def rows() -> Any:
        yield b"line,field\n"
        yield b"2,ndc\n"

    streamed = middleware.process_response(request, StreamingHttpResponse(rows()))
    assert not streamed.has_header("ETag")
    assert b"".join(streamed) == b"line,field\n2,ndc\n"
    # pages outside /api/ get no ETag (they carry a CSRF token)
    page = middleware.process_response(RequestFactory().get("/claims/"), HttpResponse(b"x"))
    assert not page.has_header("ETag")


@override_settings(API_RATE_LIMIT="3/minute")
def test_a_token_over_its_rate_gets_429_with_retry_after_and_others_do_not(
    chain: SimpleNamespace, api_login: Any
) -> None:
    busy, other = _client(chain, api_login), _client(chain, api_login)
    assert [busy.get("/api/v1/me/").status_code for _ in range(3)] == [200, 200, 200]
    refused = busy.get("/api/v1/me/")
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/problem+json"
    body = refused.json()
    assert body["type"] == "/problems/rate-limited"
    assert body["detail"].startswith("Request was throttled. Expected available in")
    assert 0 < int(refused["Retry-After"]) <= 60
    assert other.get("/api/v1/me/").status_code == 200


@override_settings(API_RATE_LIMIT="2/minute")
def test_the_count_lives_in_redis_shared_by_every_process(
    chain: SimpleNamespace, api_login: Any
) -> None:
    assert caches["default"].__class__.__name__ == "RedisCache"
    client = api_login(chain.owner)
    client.get("/api/v1/me/")
    conn = redis.Redis.from_url(settings.REDIS_URL)
    keys = conn.keys(f"*throttle_principal_user:{chain.owner.pk}")
    assert len(keys) == 1
    conn.delete(*keys)  # as if another process's window had passed: the count starts over
    assert [client.get("/api/v1/me/").status_code for _ in range(3)] == [200, 200, 429]


def test_with_the_cache_unreachable_requests_go_through_uncounted(
    chain: SimpleNamespace, api_login: Any, settings: Any, caplog: Any
) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    client = _client(chain, api_login)
    assert client.get("/api/v1/me/").status_code == 200
    assert "rate limit not applied: the cache is unreachable" in caplog.text
