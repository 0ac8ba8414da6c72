"""How long the owner dashboards' pages take on the server, at ~100k and ~1M claims.

Issue 7, Performance ("with the large world loaded (>= 1M claims, 25 locations): chain
overview and drill-down pages p95 <= 150 ms server time under 20 concurrent clients on
loopback, and the same p95 at 100k claims within 1.5x: page cost must not grow with history;
both in one run"). Timings are reported, never asserted.

The data: the two databases `bench.recon_db` builds through the product's importers
(`rxrevops_bench_recon_100k`, ~117k claims in 3 stores; `rxrevops_bench_recon`, ~1.15M
claims in 25 stores; both the whole of 2026), reused as they are. On each, once (skipped when
the organization already has them): a full reconciliation run as of 2026-12-31 and a margin
rollup refresh (again whenever one of the dashboards' rollup tables is empty for the
organization, e.g. one a new migration added); every run: VACUUM ANALYZE of the rollup
tables and the owner user the pages are fetched as (Role.OWNER, all stores). That
preparation runs in a child process (`python -m bench.dashboard_pages prepare 100k|1m`) with
its own DATABASE_URL.

Measured: per database, gunicorn as the Procfile runs it (`rxrevops.wsgi`, 2 workers of 4
threads, on a free loopback port; development profile, DEBUG off, the database's URL), both
servers up at once. One login through the login form (the session cookie is shared by the
clients). A warm-up: every URL below fetched WARMUP_PASSES times, one at a time. Then CLIENTS
concurrent clients (locust as a library, `FastHttpUser`, in a child process `python -m
bench.dashboard_pages load`) for DURATION_S seconds per database, in ROUNDS slices with the
databases taking turns (whatever else the machine does then weighs on both alike); each
client picks a page at random (each page as likely as the others; a store or a payer at
random among those the page takes), then waits THINK_S seconds:

- the chain overview: `/dashboards/` (last 30 days), `?period=mtd`, `?period=last_month`,
  `?period=qtd` (the worlds' year is 2026 and the presets count back from today);
- the drill-downs: a store's page, a payer's page (the five plans with the most scripts),
  margin by payer, by drug class and by contract type, the network benchmark, and the
  claims behind the below-cost figure of one store for last month.

Server time is gunicorn's own (the access log's `%(D)s`: from the request parsed to the
response sent, one line per request, each tagged with its page by a request header), so the
time a request waits for a free worker thread is not in it; the clients' time (locust's, with
that wait) is reported beside it. A request answered with anything but 200 is an error.

Also, to tell a page's own cost from the contention of 20 clients on 2 cores: each page
alone, in-process (`django.test.Client`, in a child: `python -m bench.dashboard_pages
profile`), the fastest of PROFILE_RUNS after a warm-up, with its SQL time, statement count
and slowest statement's table.

The pages keep the rollups' answers in Redis until the chain's rollups are refreshed
(`dashboards.rollup_cache`, DASHBOARD_CACHE_SECONDS): the warm-up asks every URL, so the
requests measured first are answered as owners are between two refreshes. Then the same load
again on servers started with DASHBOARD_CACHE_SECONDS=0 (every page reads the rollups: the
first look after a refresh), reported beside it; the in-process profile likewise, both ways.

Also measured: each page alone on a copy of the 100k database whose rollups hold 9 more years
(rows shifted back whole years), reading the rollups each time: the cost of a page against
the years of history.

Reproduce: `.venv/bin/python -m bench --only dashboards` (builds and loads the worlds first
when they are missing: about 45 minutes of CPU for the 1M one; later runs reuse them).
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

from bench import recon_db
from bench.child import json_child
from bench.django_db import settle
from bench.recon_db import POINTS, Point
from bench.report import met, print_table

ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = recon_db.CACHE / "dashboards"
CLIENTS = 20
DURATION_S = 120  # per database, in all (about 200 requests per page: a steadier p95)
ROUNDS = 4  # slices per database, the databases taking turns
THINK_S = (0.5, 1.5)  # each client waits between its requests (uniform)
WARMUP_PASSES = 2
PROFILE_RUNS = 5
TARGET_P95_MS = 150.0
TARGET_RATIO = 1.5


# History: the 100k database copied, with its rollup rows repeated for HISTORY_YEARS earlier
# years (each row shifted back a whole number of years): the same chain with ten times the
# history, for the pages' cost alone (in-process) against the original.
HISTORY_YEARS = 9
HISTORY = Point(
    "100k-history",
    f"the 100k chain with {HISTORY_YEARS} more years of rollup history",
    POINTS["100k"].world,
    "rxrevops_bench_recon_100k_history",
    POINTS["100k"].slug,
)
_ROLLUP_TABLES = (
    "dashboards_margindaily",
    "dashboards_marginstoredaily",
    "dashboards_belowcostdaily",
)


def _point(key: str) -> Point:
    return HISTORY if key == HISTORY.key else POINTS[key]


def _history_database() -> dict[str, int]:
    """Make the history copy unless it is there (it is rebuilt when the 100k database is
    newer); answer the rollup rows of each table in the original and in the copy."""
    import psycopg

    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as c:
        exists = c.execute("SELECT 1 FROM pg_database WHERE datname = %s", [HISTORY.db]).fetchone()
    if exists:
        with psycopg.connect(HISTORY.url.replace("postgres://", "postgresql://")) as h:
            years = h.execute(
                "SELECT count(DISTINCT extract(year FROM day)) FROM dashboards_margindaily"
            ).fetchone()
        if years and years[0] == HISTORY_YEARS + 1:
            return _rollup_counts()
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'DROP DATABASE "{HISTORY.db}"')
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{HISTORY.db}" TEMPLATE "{POINTS["100k"].db}"')
    with psycopg.connect(HISTORY.url.replace("postgres://", "postgresql://")) as h:
        for table in _ROLLUP_TABLES:
            columns = [
                r[0]
                for r in h.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                    "AND column_name <> 'id' ORDER BY ordinal_position",
                    [table],
                ).fetchall()
            ]
            names = ", ".join(columns)
            shifted = ", ".join(
                "(day - make_interval(years => k))::date" if c == "day" else c for c in columns
            )
            h.execute(
                f"INSERT INTO {table} ({names}) SELECT {shifted} FROM {table} "  # noqa: S608
                f"CROSS JOIN generate_series(1, {HISTORY_YEARS}) AS k"
            )
        h.commit()
    with psycopg.connect(HISTORY.url.replace("postgres://", "postgresql://"), autocommit=True) as h:
        for table in _ROLLUP_TABLES:
            h.execute(f"VACUUM ANALYZE {table}")
    return _rollup_counts()


def _rollup_counts() -> dict[str, int]:
    import psycopg

    out = {}
    for point in (POINTS["100k"], HISTORY):
        with psycopg.connect(point.url.replace("postgres://", "postgresql://")) as c:
            counts = [
                c.execute(f"SELECT count(*) FROM {t}").fetchone()  # noqa: S608
                for t in _ROLLUP_TABLES
            ]
            out[point.key] = sum(int(n[0]) for n in counts if n)
    return out


def _procfile_web(option: str, default: int) -> int:
    """An option of the Procfile's web process (the bench runs gunicorn as it does)."""
    web = next(
        line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:")
    )
    found = re.search(rf"--{option} (\d+)", web)
    return int(found.group(1)) if found else default


WORKERS, THREADS = _procfile_web("workers", 1), _procfile_web("threads", 1)
OWNER_EMAIL = "bench-owner@example.test"
OWNER_PASSWORD = "bench-owner-dashboards-2026"  # noqa: S105 (a throwaway bench database's)
TOP_PLANS = 5
PAGE_HEADER = "X-Bench-Page"
# status, microseconds, page tag, request line
ACCESS_FORMAT = '%(s)s %(D)s "%({x-bench-page}i)s" "%(r)s"'
_ACCESS_LINE = re.compile(r'^(\d{3}) (\d+) "([^"]*)" "(.*)"$')
WARMUP = "warm-up"


@dataclass(frozen=True)
class Page:
    key: str  # sent in PAGE_HEADER, so the access log tells the pages apart
    label: str
    path: str  # with {location}, {plan}, {since}, {until} where the page takes them


PAGES = (
    Page("overview", "chain overview, last 30 days", "/dashboards/"),
    Page("overview-mtd", "chain overview, month to date", "/dashboards/?period=mtd"),
    Page("overview-lm", "chain overview, last month", "/dashboards/?period=last_month"),
    Page("overview-qtd", "chain overview, quarter to date", "/dashboards/?period=qtd"),
    Page("store", "a store's page", "/dashboards/locations/{location}/"),
    Page("payer", "a payer's page", "/dashboards/payers/{plan}/"),
    Page("by-payer", "margin by payer", "/dashboards/by/payer/"),
    Page("by-drug-class", "margin by drug class", "/dashboards/by/drug_class/"),
    Page("by-contract", "margin by contract type", "/dashboards/by/contract_type/"),
    Page("benchmark", "network benchmark", "/dashboards/benchmark/"),
    Page(
        "claims-below-cost",
        "claims behind below cost, a store, a month",
        "/dashboards/claims/?figure=below_cost&since={since}&until={until}&location={location}",
    ),
)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --- the database (child process) ---------------------------------------------------------------


def _prepare(point: Point) -> dict[str, Any]:
    """Reconcile and roll up the organization unless it already is; make the owner user;
    answer what the pages need (store and plan ids, last month) and what the database holds."""
    recon_db._setup_django(point)
    from django.apps import apps
    from django.db import connection
    from django.db.models import Max, Min, Sum
    from django.utils import timezone

    from dashboards.models import MarginDaily
    from dashboards.periods import period_for
    from dashboards.services.rollups import rollups_refresh
    from reconciliation.models import ClaimResult
    from reconciliation.services.runs import reconcile_organization
    from rxrevops.models import Location, Organization
    from rxrevops.models.tenancy import Role
    from rxrevops.services.tenancy import user_upsert_with_role

    org = Organization.objects.get(slug=point.slug)
    # every rollup table the refresh fills (one added by a later migration starts empty)
    rollup_models = [
        m
        for m in apps.get_app_config("dashboards").get_models()
        if any(f.name == "organization" for f in m._meta.fields)
    ]
    done: dict[str, float] = {}
    if not ClaimResult.objects.filter(organization=org).exists():
        _say(f"  {point.key}: reconcile_organization as of {recon_db.AS_OF} (once) ...")
        started = time.perf_counter()
        reconcile_organization(organization=org, as_of=recon_db.AS_OF)
        done["reconcile_s"] = time.perf_counter() - started
    if "reconcile_s" in done or not all(
        m._default_manager.filter(organization=org).exists() for m in rollup_models
    ):
        _say(f"  {point.key}: margin rollups refresh (once) ...")
        started = time.perf_counter()
        rollups_refresh(organization=org)
        done["rollups_s"] = time.perf_counter() - started
    # every run: a rollup table that another refresh wrote may not be analyzed yet
    settle(
        (
            *(("reconciliation_claimresult",) if "reconcile_s" in done else ()),
            *(m._meta.db_table for m in rollup_models),
        )
    )
    user_upsert_with_role(
        email=OWNER_EMAIL,
        password=OWNER_PASSWORD,
        organization=org,
        role=Role.OWNER,
        locations=None,  # every store
    )
    rollups = MarginDaily.objects.filter(organization=org)
    plans = (
        rollups.filter(plan_id__isnull=False)
        .values("plan_id")
        .annotate(n=Sum("claims"))
        .order_by("-n", "plan_id")
    )
    today = timezone.localdate()
    last_month = period_for("last_month", today=today)
    last_30 = period_for("30d", today=today)
    span = rollups.aggregate(first=Min("day"), last=Max("day"))
    with connection.cursor() as cur:
        cur.execute("SELECT pg_database_size(current_database())")
        db_bytes = int(cur.fetchone()[0])
    holdings = recon_db._holdings(org)
    return {
        **done,
        "today": today.isoformat(),
        "locations": list(
            Location.objects.filter(organization=org).order_by("pk").values_list("pk", flat=True)
        ),
        "plans": [p["plan_id"] for p in plans[:TOP_PLANS]],
        "since": last_month.start.isoformat(),
        "until": last_month.end.isoformat(),
        "claims": holdings["claims"],
        "stores": holdings["stores"],
        "results": ClaimResult.objects.filter(organization=org).count(),
        # rows per rollup table: all, and of the last 30 days (what the default page reads)
        "rollups": {
            m._meta.db_table.removeprefix("dashboards_"): [
                m._default_manager.filter(organization=org).count(),
                m._default_manager.filter(
                    organization=org, day__gte=last_30.start, day__lte=last_30.end
                ).count(),
            ]
            for m in rollup_models
        },
        "first_day": str(span["first"]),
        "last_day": str(span["last"]),
        "db_bytes": db_bytes,
    }


def _profile(point: Point, urls: dict[str, list[str]], *, cache: bool = True) -> dict[str, Any]:
    """Each page's first URL in-process (`django.test.Client`, no server, one request at a
    time): after one warm-up, the fastest of PROFILE_RUNS requests, with its SQL (every
    statement timed by an execute wrapper) and its slowest statement's table. `cache=False`:
    the rollups read on every request (DASHBOARD_CACHE_SECONDS=0)."""
    recon_db._setup_django(point)
    from django.conf import settings

    if not cache:
        settings.DASHBOARD_CACHE_SECONDS = 0
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(get_user_model().objects.get(username=OWNER_EMAIL))
    statements: list[tuple[float, str]] = []  # (ms, SQL) of the request being made

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements.append(((time.perf_counter() - began) * 1000, sql))

    out: dict[str, Any] = {}
    for key, options in urls.items():
        best: dict[str, Any] | None = None
        for n in range(PROFILE_RUNS + 1):
            statements.clear()
            with connection.execute_wrapper(timed):
                began = time.perf_counter()
                status = client.get(options[0]).status_code
                total = (time.perf_counter() - began) * 1000
            slowest = max(statements, default=(0.0, ""))
            table = re.search(r'FROM "?(\w+)"?', slowest[1])
            one = {
                "status": status,
                "ms": total,
                "sql_ms": sum(ms for ms, _ in statements),
                "queries": len(statements),
                "slowest_ms": slowest[0],
                "slowest_table": table.group(1) if table else "",
            }
            if n and (best is None or one["ms"] < best["ms"]):
                best = one
        out[key] = best
    return out


# --- the load (child process: locust's gevent patches only that process) -----------------------


def _load(config: dict[str, Any]) -> dict[str, Any]:
    """CLIENTS locust users for DURATION_S seconds against config["base"]; every request's
    time as the client saw it, per page, and the requests that were not a 200."""
    import gevent
    from locust import FastHttpUser, between, task
    from locust.env import Environment

    urls: dict[str, list[str]] = config["urls"]
    keys = sorted(urls)
    # what each client sends: the owner's session cookie, or (bench.api_reads) one API
    # token per client, so a token's rate limit sees one client's requests
    credentials: list[dict[str, str]] = config.get("credentials") or [{"Cookie": config["cookie"]}]
    clients = int(config.get("clients", CLIENTS))
    think = config.get("think", THINK_S)
    times: dict[str, list[float]] = defaultdict(list)
    errors: Counter[str] = Counter()
    started_clients = iter(range(1 << 30))

    class Owner(FastHttpUser):
        host = config["base"]
        wait_time = between(*think)

        def on_start(self) -> None:
            self.credentials = credentials[next(started_clients) % len(credentials)]

        @task
        def page(self) -> None:
            key = random.choice(keys)
            url = random.choice(urls[key])
            with self.client.get(
                url,
                name=key,
                headers={PAGE_HEADER: key, **self.credentials},
                allow_redirects=False,
                catch_response=True,
            ) as response:
                if response.status_code == 0:  # no answer: the connection's error
                    response.failure(repr(getattr(response, "error", None)))
                elif response.status_code != 200:
                    response.failure(f"HTTP {response.status_code}")

    def on_request(
        name: str, response_time: float, exception: Any, response: Any, **_: Any
    ) -> None:
        times[name].append(float(response_time))
        if exception is not None:
            status = getattr(response, "status_code", 0) or 0
            # an answer other than 200 is in the server's log too; no answer is only here
            errors[f"{name}: HTTP {status}" if status else f"{name}: no answer: {exception}"] += 1

    env = Environment(user_classes=[Owner], host=config["base"])
    env.events.request.add_listener(on_request)
    runner = env.create_local_runner()
    started = time.perf_counter()
    runner.start(clients, spawn_rate=clients)
    gevent.spawn_later(config["seconds"], runner.quit)
    assert runner.greenlet is not None
    runner.greenlet.join()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "times": dict(times), "errors": dict(errors)}


def _child(mode: str, arg: str) -> dict[str, Any]:
    """`python -m bench.dashboard_pages <mode> <arg>`."""
    return json_child("bench.dashboard_pages", mode, arg)


# --- the server -------------------------------------------------------------------------------


def _mode(cache: bool) -> str:
    """The file-name suffix of a measurement's logs and configs: "" kept, "-read" not."""
    return "" if cache else "-read"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(
    point: Point, port: int, access_log: Path, *, cache: bool = True
) -> subprocess.Popen[bytes]:
    """gunicorn as the Procfile runs it, on `point`'s database; returns once it answers.
    `cache=False`: DASHBOARD_CACHE_SECONDS=0 (every page reads the rollups)."""
    access_log.unlink(missing_ok=True)
    access_log.with_suffix(".err").unlink(missing_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": point.url,
        "DEBUG": "false",
        "RXREVOPS_ENV": "development",  # production would redirect plain HTTP to HTTPS
        "DJANGO_SETTINGS_MODULE": "rxrevops.settings",
        "MEDIA_ROOT": str(recon_db.MEDIA_DIR),
        "PYTHONPATH": str(ROOT),
    }
    if not cache:
        env["DASHBOARD_CACHE_SECONDS"] = "0"
    server = subprocess.Popen(  # noqa: S603 (the venv's gunicorn)
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "rxrevops.wsgi",
            "--bind", f"127.0.0.1:{port}",
            "--workers", str(WORKERS),
            "--threads", str(THREADS),
            "--access-logfile", str(access_log),
            "--access-logformat", ACCESS_FORMAT,
            "--error-logfile", str(access_log.with_suffix(".err")),
            "--no-control-socket",  # two servers at once would share its default path
        ],
        cwd=ROOT,
        env=env,
    )  # fmt: skip
    probe = f"http://127.0.0.1:{port}/accounts/login/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}; see {access_log}.err")
        try:
            with urllib.request.urlopen(probe, timeout=5):
                return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    server.terminate()
    raise RuntimeError("gunicorn did not answer within 60 s")


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()  # SIGTERM: the master stops its workers gracefully
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _login(base: str) -> str:
    """Log the owner in through the login form; the session cookie as a Cookie header."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{base}/accounts/login/", timeout=30) as response:
        form = response.read().decode()
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    if not found:
        raise RuntimeError("no CSRF token on the login page")
    body = urllib.parse.urlencode(
        {
            "username": OWNER_EMAIL,
            "password": OWNER_PASSWORD,
            "csrfmiddlewaretoken": found.group(1),
        }
    ).encode()
    with opener.open(f"{base}/accounts/login/", data=body, timeout=60) as response:
        response.read()
    session = next((c.value for c in jar if c.name == "sessionid"), None)
    if session is None:
        raise RuntimeError("the login did not start a session (wrong password?)")
    return f"sessionid={session}"


def _urls(prepared: dict[str, Any]) -> dict[str, list[str]]:
    """Every page's URLs: one per store for the store pages, one per plan for the payer page."""
    out: dict[str, list[str]] = {}
    for page in PAGES:
        options = [
            page.path.format(
                location=location, plan=plan, since=prepared["since"], until=prepared["until"]
            )
            for location in (prepared["locations"] if "{location}" in page.path else [0])
            for plan in (prepared["plans"] if "{plan}" in page.path else [0])
        ]
        out[page.key] = options
    return out


def _warm_up(base: str, credentials: dict[str, str], urls: dict[str, list[str]]) -> Counter[str]:
    """Every URL WARMUP_PASSES times, one at a time, with `credentials` (headers); what did
    not answer 200, by page."""
    errors: Counter[str] = Counter()
    opener = urllib.request.build_opener(_NoRedirect)
    for _ in range(WARMUP_PASSES):
        for key, options in urls.items():
            for url in options:
                request = urllib.request.Request(  # noqa: S310 (loopback)
                    base + url, headers={**credentials, PAGE_HEADER: WARMUP}
                )
                try:
                    with opener.open(request, timeout=120) as response:
                        response.read()
                        status = response.status
                except urllib.error.HTTPError as e:
                    status = e.code
                if status != 200:
                    errors[f"{key}: HTTP {status} {url}"] += 1
    return errors


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect (to the login page) is an answer, not a hop


def _server_times(access_log: Path) -> tuple[dict[str, list[float]], Counter[str], int]:
    """From gunicorn's access log: the measured requests' server times (ms) per page, those
    that were not a 200 (page and status), and how many lines were warm-up."""
    times: dict[str, list[float]] = defaultdict(list)
    errors: Counter[str] = Counter()
    warmup = 0
    for line in access_log.read_text().splitlines():
        found = _ACCESS_LINE.match(line)
        if not found:
            continue
        status, micros, key, request = found.groups()
        if key == WARMUP:
            warmup += 1
            continue
        if key == "-":
            continue  # the readiness probe and the login
        times[key].append(int(micros) / 1000)
        if status != "200":
            errors[f"{key}: HTTP {status} {request}"] += 1
    return times, errors, warmup


def _measure(prepared: dict[str, dict[str, Any]], *, cache: bool) -> dict[str, dict[str, Any]]:
    """Serve every point's database at once, warm each up, then load them in turn, ROUNDS
    slices of DURATION_S / ROUNDS seconds each, alternating (so what else the machine does
    meanwhile weighs on both alike); each point's server times from its access log."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    servers: dict[str, subprocess.Popen[bytes]] = {}
    state: dict[str, dict[str, Any]] = {}
    try:
        for key, point in POINTS.items():
            access_log = LOG_DIR / f"access-{key}{_mode(cache)}.log"
            port = _free_port()
            servers[key] = _serve(point, port, access_log, cache=cache)
            base = f"http://127.0.0.1:{port}"
            state[key] = {"base": base, "urls": _urls(prepared[key]), "log": access_log}
        for key, s in state.items():
            s["cookie"] = _login(s["base"])
            _say(f"  {key}: warm-up, {WARMUP_PASSES} x {sum(map(len, s['urls'].values()))} URLs")
            s["warm_errors"] = _warm_up(s["base"], {"Cookie": s["cookie"]}, s["urls"])
            s.update(client={}, client_errors=Counter(), seconds=0.0)
        slice_s = DURATION_S / ROUNDS
        for n in range(ROUNDS):
            for key, s in state.items():
                _say(f"  {key}: {CLIENTS} clients for {slice_s:.0f} s ({n + 1}/{ROUNDS}) ...")
                config = {k: s[k] for k in ("base", "cookie", "urls")}
                config_path = LOG_DIR / f"load-{key}{_mode(cache)}.json"
                config_path.write_text(json.dumps({**config, "seconds": slice_s}))
                clients = _child("load", str(config_path))
                for page, times in clients["times"].items():
                    s["client"].setdefault(page, []).extend(times)
                s["client_errors"].update(clients["errors"])
                s["seconds"] += clients["seconds"]
    finally:
        for server in servers.values():
            _stop(server)
    out = {}
    for key, s in state.items():
        times, errors, warmup = _server_times(s["log"])
        out[key] = {
            "server": times,
            "server_errors": dict(errors),
            "warmup_requests": warmup,
            "warmup_errors": dict(s["warm_errors"]),
            "client": s["client"],
            "client_errors": dict(s["client_errors"]),
            "seconds": s["seconds"],
            "access_log": recon_db._rel(s["log"]),
        }
    return out


# --- the report ---------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q of the values at or below it."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f}"


def _holdings_line(point: Point, p: dict[str, Any]) -> str:
    rollups = ", ".join(
        f"{table} {rows:,} ({last_30:,})" for table, (rows, last_30) in p["rollups"].items()
    )
    return (
        f"  {point.key:>4} ({point.db}, {p['db_bytes'] / 2**30:.1f} GiB): {p['claims']:,} claims "
        f"in {p['stores']} stores, {p['results']:,} results, dates of service {p['first_day']} "
        f"to {p['last_day']}; rollup rows (of the last 30 days): {rollups}"
    )


def _report(
    prepared: dict[str, dict[str, Any]],
    runs: dict[str, dict[str, Any]],
    profiles: dict[str, dict[str, Any]],
    read_runs: dict[str, dict[str, Any]],
    read_profiles: dict[str, dict[str, Any]],
) -> None:
    small, big = runs["100k"], runs["1m"]
    print()
    print(
        f"Owner dashboard pages: server time (gunicorn's, {WORKERS} workers x {THREADS} "
        f"threads) under {CLIENTS} concurrent clients (think {THINK_S[0]}-{THINK_S[1]} s) "
        f"for {DURATION_S} s per database ({ROUNDS} slices, taking turns), after a warm-up; "
        f"today {prepared['1m']['today']}"
    )
    for key, point in POINTS.items():
        print(_holdings_line(point, prepared[key]))
    print()
    print(
        "per page: server p50 and p95 in ms, 100k / 1M, and the p95 ratio 1M / 100k "
        f"(target: p95 <= {TARGET_P95_MS:.0f} ms at both, ratio <= {TARGET_RATIO})"
    )
    rows = []
    every_small: list[float] = []
    every_big: list[float] = []
    for page in PAGES:
        s, b = small["server"].get(page.key, []), big["server"].get(page.key, [])
        every_small += s
        every_big += b
        rows.append(_page_row(page.label, s, b))
    rows.append(_page_row("all pages", every_small, every_big))
    read_all: tuple[list[float], list[float]] = ([], [])
    for page in PAGES:
        s = read_runs["100k"]["server"].get(page.key, [])
        b = read_runs["1m"]["server"].get(page.key, [])
        read_all[0].extend(s)
        read_all[1].extend(b)
        if page.key.startswith("overview") or page.key in ("store", "payer"):
            rows.append(_page_row(f"{page.label}, rollups read each time", s, b))
    rows.append(_page_row("all pages, rollups read each time", *read_all))
    c_small = [t for ts in small["client"].values() for t in ts]
    c_big = [t for ts in big["client"].values() for t in ts]
    errors = {key: _errors(runs[key]) for key in runs}
    rows += [
        (
            "client-side p50 / p95, all pages, 100k",
            f"{_ms(percentile(c_small, 0.5))} / {_ms(percentile(c_small, 0.95))} ms",
            "",
            "",
        ),
        (
            "client-side p50 / p95, all pages, 1M",
            f"{_ms(percentile(c_big, 0.5))} / {_ms(percentile(c_big, 0.95))} ms",
            "",
            "",
        ),
        (
            "requests/s, 100k / 1M",
            f"{len(c_small) / small['seconds']:.1f} / {len(c_big) / big['seconds']:.1f}",
            "",
            "",
        ),
        (
            "errors (non-200, warm-up included), 100k / 1M",
            f"{sum(errors['100k'].values())} / {sum(errors['1m'].values())}",
            "0",
            met(not errors["100k"] and not errors["1m"]),
        ),
    ]
    print_table(rows)
    print()
    print("detail (ms; server from the access log, client from locust):")
    header = ("page", "n 100k", "n 1M", "max 100k", "max 1M", "client p95 100k", "client p95 1M")
    detail = [
        (
            page.label,
            str(len(small["server"].get(page.key, []))),
            str(len(big["server"].get(page.key, []))),
            _ms(max(small["server"].get(page.key, [math.nan]))),
            _ms(max(big["server"].get(page.key, [math.nan]))),
            _ms(percentile(small["client"].get(page.key, []), 0.95)),
            _ms(percentile(big["client"].get(page.key, []), 0.95)),
        )
        for page in PAGES
    ]
    widths = [max(len(r[0]) for r in detail) + 2, *(len(h) + 2 for h in header[1:])]
    for r in (header, *detail):
        cells = zip(r[1:], widths[1:], strict=True)
        print(f"{r[0]:<{widths[0]}}" + "".join(f"{v:>{n}}" for v, n in cells))
    for key in runs:
        for what, count in sorted(errors[key].items()):
            print(f"ERROR {key}: {what} (x{count})")
    print()
    _print_profiles(profiles, "answers kept")
    print()
    _print_profiles(read_profiles, "rollups read each time")
    print()
    print("notes:")
    print(
        "- the pages keep the rollups' answers in Redis until the chain's rollups are "
        "refreshed (DASHBOARD_CACHE_SECONDS, on by default); the warm-up asks every URL, so "
        "the measured requests with answers kept are what owners get between two refreshes. "
        "The rows 'rollups read each time' are the same load on servers with "
        "DASHBOARD_CACHE_SECONDS=0: what the first look after a refresh costs."
    )
    print(
        "- server time: gunicorn's access log %(D)s (request parsed to response written, "
        "per request), so a request's wait for a free worker thread is not in it; the "
        "client-side figures (locust's FastHttpUser, in its own process) include it."
    )
    print(
        "- the two chains differ in width, not history: both hold the whole of 2026; the 1M "
        "chain has 25 stores and the 100k chain 3. A chain-wide page over a date range reads "
        "every store's rollup rows of the range (see the rows of the last 30 days above), so "
        "its ratio also measures the wider chain; a store's page and the claims page read one "
        "store."
    )
    for key in ("100k", "1m"):
        p = prepared[key]
        made = ", ".join(
            f"{label} {p[k]:.0f} s"
            for k, label in (("reconcile_s", "reconciliation"), ("rollups_s", "rollups"))
            if k in p
        )
        print(
            f"- {key}: {runs[key]['warmup_requests']} warm-up requests; store pages rotate "
            f"over {len(p['locations'])} stores, the payer page over plans {p['plans']}, the "
            f"claims page is {p['since']} to {p['until']}"
            + (f"; prepared in this run: {made}" if made else "")
            + f"; access log {runs[key]['access_log']}"
        )


def _print_profiles(profiles: dict[str, dict[str, Any]], title: str) -> None:
    print(
        f"{title}: where a page's time goes, alone (in-process, no server, one request at "
        f"a time; the fastest of {PROFILE_RUNS}): total ms, of it SQL ms (statements), and "
        "the slowest statement at 1M:"
    )
    rows = []
    for page in PAGES:
        s, b = profiles["100k"][page.key], profiles["1m"][page.key]
        rows.append(
            (
                page.label,
                f"{s['ms']:.0f} / {s['sql_ms']:.0f} ({s['queries']})",
                f"{b['ms']:.0f} / {b['sql_ms']:.0f} ({b['queries']})",
                f"{b['slowest_ms']:.1f} ms on {b['slowest_table']}",
                "" if s["status"] == b["status"] == 200 else f"HTTP {s['status']}/{b['status']}",
            )
        )
    w = max(len(r[0]) for r in rows) + 2
    w1 = max(len(r[1]) for r in rows) + 2
    w2 = max(len(r[2]) for r in rows) + 2
    print(f"{'page':<{w}}{'100k':>{w1}}{'1M':>{w2}}  slowest statement, 1M")
    for name, a, b_, slow, status in rows:
        print(f"{name:<{w}}{a:>{w1}}{b_:>{w2}}  {slow} {status}".rstrip())


def _page_row(label: str, s: list[float], b: list[float]) -> tuple[str, ...]:
    p95_s, p95_b = percentile(s, 0.95), percentile(b, 0.95)
    ratio = p95_b / p95_s if s and b and p95_s > 0 else math.nan
    ok = p95_s <= TARGET_P95_MS and p95_b <= TARGET_P95_MS and ratio <= TARGET_RATIO
    return (
        label,
        f"p50 {_ms(percentile(s, 0.5)):>4} / {_ms(percentile(b, 0.5)):>4}   "
        f"p95 {_ms(p95_s):>4} / {_ms(p95_b):>4}   x{ratio:.2f}",
        f"<= {TARGET_P95_MS:.0f} ms, x <= {TARGET_RATIO}",
        met(ok),
        f"100k: p95 {_ms(p95_s)} ms",
        f"x{ratio:.2f}",
    )


def _errors(run: dict[str, Any]) -> Counter[str]:
    """Every non-200 the server logged (measured and warm-up), and every request a client
    got no answer to (a connection error or a timeout: not in the server's log)."""
    out: Counter[str] = Counter(run["server_errors"]) + Counter(run["warmup_errors"])
    out.update({k: v for k, v in run["client_errors"].items() if ": no answer: " in k})
    return out


def run() -> None:
    started = time.perf_counter()
    prepared: dict[str, dict[str, Any]] = {}
    profiles: dict[str, dict[str, Any]] = {}
    for key, point in POINTS.items():
        recon_db._ensure_world(point)
        print(f"{key}: loading {recon_db._rel(point.world)} into {point.db} ...", flush=True)
        loaded = recon_db._child("load", point)
        if loaded["imported"]:
            print(f"  imported {loaded['imported']:,} files in {loaded['load_s']:.0f} s")
        print(f"{key}: reconciliation results, rollups and the owner user ...", flush=True)
        prepared[key] = _child("prepare", key)
    print(
        f"serving both databases; {CLIENTS} clients on each for {DURATION_S} s in all, "
        f"{ROUNDS} slices each, alternating ...",
        flush=True,
    )
    runs = _measure(prepared, cache=True)
    print("the same again with every page reading the rollups (no answer kept) ...", flush=True)
    read_runs = _measure(prepared, cache=False)
    read_profiles: dict[str, dict[str, Any]] = {}
    for key in POINTS:
        print(f"{key}: each page in-process, one request at a time ...", flush=True)
        for cache, into in ((True, profiles), (False, read_profiles)):
            config_path = LOG_DIR / f"profile-{key}{_mode(cache)}.json"
            config = {"point": key, "urls": _urls(prepared[key]), "cache": cache}
            config_path.write_text(json.dumps(config))
            into[key] = _child("profile", str(config_path))
    print(
        f"{HISTORY.key}: copying the 100k database with {HISTORY_YEARS} more years ...", flush=True
    )
    rows = _history_database()
    config_path = LOG_DIR / f"profile-{HISTORY.key}.json"
    config = {"point": HISTORY.key, "urls": _urls(prepared["100k"]), "cache": False}
    config_path.write_text(json.dumps(config))
    history = _child("profile", str(config_path))
    _report(prepared, runs, profiles, read_runs, read_profiles)
    _print_history(read_profiles["100k"], history, rows)
    print(f"- whole benchmark: {time.perf_counter() - started:.0f} s")


def _print_history(one: dict[str, Any], ten: dict[str, Any], rows: dict[str, int]) -> None:
    print()
    print(
        f"history: each page alone (in-process, fastest of {PROFILE_RUNS}), the 100k chain "
        f"with 1 year of rollups ({rows['100k']:,} rows) and with {HISTORY_YEARS + 1} years "
        f"({rows[HISTORY.key]:,} rows): total ms / SQL ms, and the ratio of the totals "
        f"(target: page cost does not grow with history)"
    )
    table = []
    worst = 0.0
    for page in PAGES:
        a, b = one[page.key], ten[page.key]
        ratio = b["ms"] / a["ms"] if a["ms"] else 0.0
        worst = max(worst, ratio)
        table.append(
            (
                page.label,
                f"{a['ms']:.0f} / {a['sql_ms']:.0f}",
                f"{b['ms']:.0f} / {b['sql_ms']:.0f}",
                f"x{ratio:.2f}",
            )
        )
    w = max(len(r[0]) for r in table) + 2
    print(f"{'page':<{w}}{'1 year':>12}{f'{HISTORY_YEARS + 1} years':>12}{'ratio':>8}")
    for name, a_, b_, r in table:
        print(f"{name:<{w}}{a_:>12}{b_:>12}{r:>8}")
    print(f"largest ratio: x{worst:.2f}  {met(worst <= TARGET_RATIO)}")


def _main(argv: list[str]) -> None:
    mode, arg = argv
    if mode == "prepare":
        answer = _prepare(POINTS[arg])
    elif mode == "load":
        answer = _load(json.loads(Path(arg).read_text()))
    elif mode == "profile":
        config = json.loads(Path(arg).read_text())
        answer = _profile(_point(config["point"]), config["urls"], cache=config.get("cache", True))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    print(json.dumps(answer))


if __name__ == "__main__":
    if len(sys.argv) == 3:
        _main(sys.argv[1:])
    else:
        run()
