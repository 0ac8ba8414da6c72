"""Rate limiting per caller: each API token, and each signed-in user, gets API_RATE_LIMIT
requests per period. Counted in the shared cache (Redis), so every web process sees the
same count; a refused request answers 429 with Retry-After."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from rxrevops.access import TokenPrincipal

log = logging.getLogger(__name__)


class PrincipalRateThrottle(SimpleRateThrottle):
    scope = "principal"

    def allow_request(self, request: Request, view: Any) -> bool:
        # the limit protects the service; it must not be what takes it down: with the cache
        # (Redis) unreachable, requests are let through uncounted and the outage is logged
        try:
            return bool(super().allow_request(request, view))
        except RedisError as exc:
            log.warning("rate limit not applied: the cache is unreachable (%s)", type(exc).__name__)
            return True

    def get_rate(self) -> str:
        # read per request (not at import like DRF's THROTTLE_RATES): the setting can be
        # overridden in tests and changed by a deploy without a code change
        rate: str = settings.API_RATE_LIMIT
        return rate

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        user = request.user
        if isinstance(user, TokenPrincipal):
            # the prefix, not the row id: ids restart in a fresh database, prefixes are random
            ident = f"token:{user.token.prefix}"
        elif user is not None and user.is_authenticated:
            ident = f"user:{user.pk}"
        else:
            return None  # anonymous callers are refused (401) before throttling runs
        return self.cache_format % {"scope": self.scope, "ident": ident}
