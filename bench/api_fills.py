"""How fast a PMS pushes fills through the API, against the physical limit.

Issue 10, Performance (">= 20,000 fills/s through POST /api/v1/fills/bulk/"). One run prints:

- the bulk push end to end: N canonical rows as JSON bodies of BATCH fills each (values as
  the canonical CSV's text; bodies encoded before the clock starts), POSTed one after the
  other with a keep-alive session to gunicorn (`rxrevops.wsgi` with the Procfile's WORKERS
  workers; development profile, DEBUG off) on the benchmark database, into a fresh
  location, with a token limited to it (scope claims:write): from the first request sent to
  the last answer read, every answer checked (200, per-item results, counts);
- the same bodies again (every fill unchanged: read, normalized, hashed, compared);
- the same bodies pushed by CLIENTS stores at once (a chain's stores, each its own client
  and token, sending its share of the bodies one after the other), into fresh locations;
- the push service alone, in this process (`json.loads` of each body + `push_fills`), into
  another fresh location: the push without HTTP, DRF and the answer's JSON;
- raw `COPY` of the same normalized rows into an unindexed table (the physical limit, as
  `bench.pms_import` measures it).

Data: the rows of `bench.pms_import`'s N-row file (`var/bench/pms-<N>.csv`, cut from the large
world, seed 7; written if missing), without their `pharmacy_ncpdp` (they are pushed into a
location of the benchmark's own). Database `rxrevops_bench_push` (created if missing);
earlier runs' locations are removed first. The after-import follow-ups (reconciliation,
worklists) are off in the server: no worker consumes them here, and they run after the push
has answered anyway. Timings are reported, never asserted.

Reproduce: `.venv/bin/python -m bench --only api-fills [--api-fills-rows N]`.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench import pms_import
from bench.django_db import django_on
from bench.report import met, print_table

if TYPE_CHECKING:
    from rxrevops.models import Location, Organization

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "var" / "bench"
DB_NAME = "rxrevops_bench_push"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
REDIS_URL = "redis://127.0.0.1:6379/13"  # the rate limiter's counters
ORG_SLUG = "bench-api-fills"
RUN_NCPDP_PREFIX = "97"
BATCH = 5_000
WORKERS = 4  # as the Procfile runs gunicorn
CLIENTS = 4  # the concurrent pass: stores pushing at once, one per worker
TARGET_FILLS_S = 20_000


def _setup_django() -> None:
    django_on(
        DB_NAME,
        env={
            "REDIS_URL": REDIS_URL,
            "MEDIA_ROOT": str(CACHE / "media-push"),
            "RECONCILE_AFTER_IMPORT": "false",
            "WORKLISTS_AFTER_IMPORT": "false",
        },
        say=_print,
    )


def _print(text: str) -> None:
    print(text, flush=True)


def _organization() -> Organization:
    from rxrevops.models import Organization

    org, _ = Organization.objects.get_or_create(
        slug=ORG_SLUG, defaults={"name": "Benchmark chain (API push)"}
    )
    return org


def _clear_earlier_runs(org: Organization) -> None:
    from django.db import connection

    from rxrevops.models import ApiToken, ImportFile, Job, Location

    old = list(Location.objects.filter(organization=org).values_list("pk", flat=True))
    ApiToken.objects.filter(organization=org).delete()
    if not old:
        return
    with connection.cursor() as cur:
        cur.execute("DELETE FROM claims_fill WHERE location_id = ANY(%s)", [old])
        cur.execute("DELETE FROM claims_prescription WHERE location_id = ANY(%s)", [old])
        cur.execute("DELETE FROM claims_patient WHERE location_id = ANY(%s)", [old])
    Job.objects.filter(organization=org).delete()
    ImportFile.objects.filter(location__in=old).delete()  # a file imported by hand to compare
    Location.objects.filter(pk__in=old).delete()
    with connection.cursor() as cur:
        for table in ("claims_fill", "claims_prescription", "claims_patient"):
            cur.execute(f"VACUUM ANALYZE {table}")


def _location(org: Organization, number: int, name: str) -> Location:
    from rxrevops.models import Location

    ncpdp = f"{RUN_NCPDP_PREFIX}{number:05d}"
    loc: Location = Location.objects.create(
        organization=org, ncpdp_id=ncpdp, name=name, npi=pms_import._npi_for(ncpdp)
    )
    return loc


def _bodies(path: Path, rows: int) -> list[bytes]:
    """The file's first `rows` rows as bulk-push bodies of BATCH fills each."""
    bodies: list[bytes] = []
    batch: list[dict[str, str]] = []
    with path.open(newline="", encoding="utf-8") as fh:
        for number, row in enumerate(csv.DictReader(fh)):
            if number >= rows:
                break
            del row["pharmacy_ncpdp"]
            batch.append(row)
            if len(batch) == BATCH:
                bodies.append(json.dumps({"fills": batch}).encode())
                batch = []
    if batch:
        bodies.append(json.dumps({"fills": batch}).encode())
    return bodies


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DEBUG": "false",
        "RXREVOPS_ENV": "development",  # production would redirect plain HTTP to HTTPS
        "PYTHONPATH": str(ROOT),
    }
    server = subprocess.Popen(  # noqa: S603 (the venv's gunicorn)
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "rxrevops.wsgi",
            "--bind", f"127.0.0.1:{port}",
            "--workers", str(WORKERS),
            "--timeout", "300",
            "--error-logfile", str(log),
            "--no-control-socket",
        ],
        cwd=ROOT,
        env=env,
    )  # fmt: skip
    return server


def _wait_for(server: subprocess.Popen[bytes], base: str, key: str, log: Path) -> None:
    import requests

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}; see {log}")
        try:
            if requests.get(f"{base}/api/v1/me/", headers=_auth(key), timeout=30).ok:
                return
        except requests.RequestException:  # not listening yet, or a worker still starting
            pass
        time.sleep(0.5)
    raise RuntimeError("gunicorn did not answer within 60 s")


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Token {key}"}


def _push_over_http(
    base: str, keys: list[str], bodies: list[bytes]
) -> tuple[float, dict[str, int], list[float]]:
    """Every body POSTed, by one client per key at once (each its own keep-alive session and
    store, sending its share of the bodies, dealt in turn, one after the other); (seconds,
    summed counts, per-request seconds)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import requests

    totals = {"read": 0, "created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    latencies: list[float] = []
    lock = threading.Lock()
    sessions = [requests.Session() for _ in keys]

    def send(client: int, body: bytes) -> None:
        headers = {**_auth(keys[client]), "Content-Type": "application/json"}
        sent = time.perf_counter()
        response = sessions[client].post(
            f"{base}/api/v1/fills/bulk/", data=body, headers=headers, timeout=300
        )
        took = time.perf_counter() - sent
        if response.status_code != 200:
            raise RuntimeError(f"push answered {response.status_code}: {response.text[:500]}")
        answer = response.json()
        if len(answer["items"]) != answer["counts"]["read"]:
            raise RuntimeError("an answer without a result per item")
        with lock:
            latencies.append(took)
            for k in totals:
                totals[k] += int(answer["counts"][k])

    def client(number: int) -> None:
        for body in bodies[number :: len(keys)]:
            send(number, body)

    # warm every worker's connection and imports without writing anything
    for number, key in enumerate(keys):
        for _ in range(WORKERS):
            sessions[number].get(f"{base}/api/v1/me/", headers=_auth(key)).raise_for_status()
    with ThreadPoolExecutor(max_workers=len(keys)) as pool:
        started = time.perf_counter()
        for done in [pool.submit(client, number) for number in range(len(keys))]:
            done.result()
        seconds = time.perf_counter() - started
    return seconds, totals, latencies


def _push_in_process(location: Location, bodies: list[bytes]) -> tuple[float, dict[str, int]]:
    from claims.services.fill_push import push_fills

    totals = {"read": 0, "created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    started = time.perf_counter()
    for body in bodies:
        result = push_fills(location=location, rows=json.loads(body)["fills"], source="bench")
        for k in totals:
            totals[k] += result.counts[k]
    return time.perf_counter() - started, totals


def _counts(c: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in c.items())


def run(*, rows: int) -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    stores = list(pms_import._world_files().values())
    data, used = pms_import._build_file(CACHE / f"pms-{rows}.csv", stores, rows)
    bodies = _bodies(data, rows)
    body_mb = sum(len(b) for b in bodies) / 1e6
    _setup_django()
    from rxrevops.services.tokens import api_token_create

    org = _organization()
    _clear_earlier_runs(org)
    http_loc = _location(org, 1, "Bench: pushed over HTTP")
    service_loc = _location(org, 2, "Bench: pushed in process")
    key = api_token_create(
        organization=org, name="bench push", scopes=["claims:write"], locations=[http_loc]
    ).key
    # the stores pushing at once, each with its own token
    parallel_keys = [
        api_token_create(
            organization=org,
            name=f"bench push, store {n + 1} of {CLIENTS}",
            scopes=["claims:write"],
            locations=[_location(org, 3 + n, f"Bench: store {n + 1} of {CLIENTS} pushing")],
        ).key
        for n in range(CLIENTS)
    ]

    port = _free_port()
    log = CACHE / "api-fills-gunicorn.log"
    base = f"http://127.0.0.1:{port}"
    print(
        f"gunicorn on {base} ({WORKERS} workers), {len(bodies)} bodies, {body_mb:.0f} MB ...",
        flush=True,
    )
    server = _serve(port, log)
    try:
        _wait_for(server, base, key, log)
        http_s, http_counts, latencies = _push_over_http(base, [key], bodies)
        print(f"  first push {http_s:.1f} s; again ...", flush=True)
        again_s, again_counts, again_latencies = _push_over_http(base, [key], bodies)
        print(f"  {again_s:.1f} s; {CLIENTS} stores pushing at once ...", flush=True)
        par_s, par_counts, par_latencies = _push_over_http(base, parallel_keys, bodies)
        print(f"  {par_s:.1f} s", flush=True)
    finally:
        _stop(server)
    print("the push service in process ...", flush=True)
    service_s, service_counts = _push_in_process(service_loc, bodies)
    print(f"  {service_s:.1f} s; normalizing for the raw COPY ...", flush=True)
    texts, good_rows, _ = pms_import._normalized_csv(data)
    copy_s = pms_import._raw_copy(texts)

    n = http_counts["read"]
    http_rate, again_rate = n / http_s, n / again_s
    service_rate, copy_rate = n / service_s, good_rows / copy_s
    p50 = statistics.median(latencies)
    print()
    print(
        f"API fill push: {n:,} canonical rows ({used} stores of the large world, seed 7, from "
        f"{data.relative_to(ROOT)}) in {len(bodies)} POST /api/v1/fills/bulk/ of {BATCH:,} "
        f"fills ({body_mb:.0f} MB of JSON) to gunicorn ({WORKERS} workers) on {DB_NAME}, one "
        "request at a time"
    )
    print(f"  first push:  {_counts(http_counts)}")
    print(f"  again:       {_counts(again_counts)}")
    print(f"  {CLIENTS} stores:    {_counts(par_counts)}")
    print(f"  in process:  {_counts(service_counts)}")
    print()
    print_table(
        [
            (
                "bulk push over HTTP, end to end",
                f"{http_s:.1f} s  {http_rate:,.0f} fills/s",
                f">= {TARGET_FILLS_S:,} fills/s",
                met(http_rate >= TARGET_FILLS_S),
                f"raw COPY {copy_rate:,.0f} rows/s",
                f"{http_rate / copy_rate:.2f}",
            ),
            (
                f"  per request of {BATCH:,} (median / slowest)",
                f"{p50 * 1000:,.0f} / {max(latencies) * 1000:,.0f} ms",
                "",
                "",
            ),
            (
                "same fills again (all unchanged)",
                f"{again_s:.1f} s  {again_rate:,.0f} fills/s",
                "",
                "",
            ),
            (
                "  per request (median)",
                f"{statistics.median(again_latencies) * 1000:,.0f} ms",
                "",
                "",
            ),
            (
                f"bulk push over HTTP, {CLIENTS} stores at once",
                f"{par_s:.1f} s  {n / par_s:,.0f} fills/s",
                f">= {TARGET_FILLS_S:,} fills/s",
                met(n / par_s >= TARGET_FILLS_S),
                f"raw COPY {copy_rate:,.0f} rows/s",
                f"{n / par_s / copy_rate:.2f}",
            ),
            (
                "  per request (median)",
                f"{statistics.median(par_latencies) * 1000:,.0f} ms",
                "",
                "",
            ),
            (
                "push service in process (json.loads + push_fills)",
                f"{service_s:.1f} s  {service_rate:,.0f} fills/s",
                "",
                "",
            ),
            (
                "raw COPY of the normalized rows (baseline)",
                f"{copy_s:.1f} s  {copy_rate:,.0f} rows/s",
                "",
                "",
            ),
            ("bulk push / raw COPY", f"{http_rate / copy_rate:.2f}", "", ""),
            ("bulk push / push service in process", f"{http_rate / service_rate:.2f}", "", ""),
        ]
    )
