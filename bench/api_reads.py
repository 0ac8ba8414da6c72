"""How fast the integration API answers simple reads under 50 concurrent clients.

Issue 10, Performance ("simple reads p95 <= 50 ms at 50 concurrent clients on loopback").
Timings are reported, never asserted.

The data: `rxrevops_bench_recon`, the ~1.15M-claim chain (25 stores, the whole of 2026) that
`bench.recon_db` builds through the product's importers and reconciles, reused as it is (a
child process prepares it: `python -m bench.api_reads prepare`). One API token per client
(organization-wide, scopes claims:read, jobs:read, remits:read; earlier runs' bench tokens
revoked first), so each token's rate limit (API_RATE_LIMIT) sees one client, as it would
with one token per PMS.

The reads, each equally likely, ids at random among SAMPLE real ones:
- `GET /api/v1/me/`, `/locations/`, `/locations/{id}/`;
- `GET /api/v1/patients/?location={id}&page_size=20` and `/patients/{id}/` (audited: each
  read of a patient writes its audit event, as in production);
- `GET /api/v1/jobs/?page_size=20` and `/jobs/{id}/`;
- `GET /api/v1/reconciliation/claims/?location={ncpdp}&page_size=20` and
  `/reconciliation/claims/{fill_id}/` (a claim's story: result, 835 lines, adjustments).

Measured: gunicorn as the Procfile runs it (`bench.dashboard_pages`'s server: the same
workers and threads, development profile, DEBUG off), a warm-up pass over every URL, then
CLIENTS clients (locust, `bench.dashboard_pages`'s load child) for DURATION_S seconds, each
waiting THINK_S between its requests. Server time is gunicorn's own (`%(D)s` in the access
log, per read); the clients' time is beside it. Anything but a 200 is an error.

Reproduce: `.venv/bin/python -m bench --only api-reads` (builds the 1M world first when it is
missing: see bench.recon_db).
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from typing import Any

from bench import dashboard_pages as pages
from bench import recon_db
from bench.child import json_child
from bench.recon_db import POINTS
from bench.report import met, print_table

POINT = POINTS["1m"]
CLIENTS = 50
DURATION_S = 90
THINK_S = (0.5, 1.5)
SAMPLE = 200
TARGET_P95_MS = 50.0
TOKEN_NAME = "bench api reads"  # noqa: S105 (a token's label, not a secret)

READS = {
    "me": "/api/v1/me/",
    "locations": "/api/v1/locations/",
    "location": "/api/v1/locations/{location}/",
    "patients": "/api/v1/patients/?location={location}&page_size=20",
    "patient": "/api/v1/patients/{patient}/",
    "jobs": "/api/v1/jobs/?page_size=20",
    "job": "/api/v1/jobs/{job}/",
    "claims": "/api/v1/reconciliation/claims/?location={ncpdp}&page_size=20",
    "claim": "/api/v1/reconciliation/claims/{fill}/",
}


def _prepare() -> dict[str, Any]:
    """Tokens (one per client) and SAMPLE ids of each kind the reads name."""
    recon_db._setup_django(POINT)
    from django.utils import timezone

    from claims.models import Patient
    from reconciliation.models import ClaimResult
    from rxrevops.models import ApiToken, Job, Location, Organization
    from rxrevops.services.tokens import api_token_create

    org = Organization.objects.get(slug=POINT.slug)
    ApiToken.objects.filter(organization=org, name=TOKEN_NAME, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    keys = [
        api_token_create(
            organization=org,
            name=TOKEN_NAME,
            scopes=["claims:read", "jobs:read", "remits:read"],
        ).key
        for _ in range(CLIENTS)
    ]
    rng = random.Random(7)

    def sample(ids: list[int]) -> list[int]:
        return rng.sample(ids, min(SAMPLE, len(ids)))

    locations = list(Location.objects.filter(organization=org).values_list("pk", "ncpdp_id"))
    return {
        "keys": keys,
        "locations": [pk for pk, _ in locations],
        "ncpdp": [n for _, n in locations],
        "patients": sample(
            list(Patient.objects.filter(location__organization=org).values_list("pk", flat=True))
        ),
        "jobs": sample(list(Job.objects.filter(organization=org).values_list("pk", flat=True))),
        "fills": sample(
            list(
                ClaimResult.objects.filter(organization=org)
                .order_by("?")
                .values_list("fill_id", flat=True)[: SAMPLE * 5]
            )
        ),
        "claims": recon_db._holdings(org)["claims"],
    }


def _urls(p: dict[str, Any]) -> dict[str, list[str]]:
    fills = {
        "location": p["locations"],
        "ncpdp": p["ncpdp"],
        "patient": p["patients"],
        "job": p["jobs"],
        "fill": p["fills"],
    }
    out = {}
    for key, path in READS.items():
        names = [n for n in fills if "{" + n + "}" in path]
        if not names:
            out[key] = [path]
        else:
            [name] = names
            out[key] = [path.format(**{name: value}) for value in fills[name]]
    return out


def _database_exists() -> bool:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres") as c:
        found = c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [POINT.db]).fetchone()
    return found is not None


def _child(mode: str) -> dict[str, Any]:
    return json_child("bench.api_reads", mode)


def run() -> None:
    print(f"API simple reads: {CLIENTS} concurrent clients, gunicorn on loopback")
    if not _database_exists():
        recon_db.run()  # the 1M chain, imported and reconciled
    prepared = _child("prepare")
    urls = _urls(prepared)
    credentials = [{"Authorization": f"Token {key}"} for key in prepared["keys"]]
    pages.LOG_DIR.mkdir(parents=True, exist_ok=True)
    access_log = pages.LOG_DIR / "access-api-reads.log"
    port = pages._free_port()
    base = f"http://127.0.0.1:{port}"
    server = pages._serve(POINT, port, access_log)
    try:
        # each read's URLs with a token of its own (one token's rate limit would refuse a
        # warm-up of every URL)
        warm = Counter[str]()
        for n, (key, options) in enumerate(sorted(urls.items())):
            warm.update(pages._warm_up(base, credentials[n % len(credentials)], {key: options}))
        config = {
            "base": base,
            "urls": urls,
            "credentials": credentials,
            "clients": CLIENTS,
            "think": THINK_S,
            "seconds": DURATION_S,
        }
        config_path = pages.LOG_DIR / "load-api-reads.json"
        config_path.write_text(json.dumps(config))
        clients = pages._child("load", str(config_path))
    finally:
        pages._stop(server)
    server_times, server_errors, _ = pages._server_times(access_log)
    everything = [t for times in server_times.values() for t in times]
    seen = [t for times in clients["times"].values() for t in times]
    p95 = pages.percentile(everything, 0.95)
    print(
        f"  {POINT.db}: {prepared['claims']:,} claims in {len(prepared['locations'])} stores; "
        f"{len(everything):,} reads in {clients['seconds']:.0f} s "
        f"({len(everything) / clients['seconds']:.0f}/s)"
    )

    def p(values: list[float], q: float) -> str:
        return pages._ms(pages.percentile(values, q))

    rows = [
        (
            f"{key} {READS[key]}",
            f"p50 {p(t, 0.5)} / p95 {p(t, 0.95)} ms "
            f"(clients p95 {p(clients['times'].get(key, []), 0.95)})",
            "",
            "",
        )
        for key, t in sorted(server_times.items())
    ]
    errors = sum(server_errors.values()) + sum(clients["errors"].values()) + sum(warm.values())
    rows.append(
        (
            "all simple reads, server time",
            f"p95 {pages._ms(p95)} ms (clients p95 {pages._ms(pages.percentile(seen, 0.95))})",
            f"<= {TARGET_P95_MS:.0f} ms",
            met(p95 <= TARGET_P95_MS),
        )
    )
    rows.append(("reads answered with anything but 200", f"{errors}", "0", met(errors == 0)))
    print_table(rows)
    for problem, n in (server_errors | clients["errors"] | dict(warm)).items():
        print(f"  error: {problem} x{n}")
    print(f"  access log: {recon_db._rel(access_log)}")


if __name__ == "__main__":
    if sys.argv[1:] == ["prepare"]:
        print(json.dumps(_prepare()))
    else:
        run()
